"""The inventory service's settings (env prefix `INVENTORY_`; docs/configuration.md).

Pool, concurrency, prefetch and the retry policy come from `WorkerSettings` (`WORKER_*`,
`RETRY_*`, overridable as `INVENTORY_WORKER_*`...), the relay's tuning from `RelaySettings`.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.outbox.settings import RelaySettings, RelayTuning
from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import WorkerSettings, WorkerTuning


class Settings(WorkerSettings, RelaySettings):
    model_config = service_config(Service.INVENTORY)
    service: ClassVar[Service] = Service.INVENTORY

    database_url: str = Field(
        default="sqlite:///var/inventory.db", description="any SQLAlchemy URL"
    )
    # Their ports come from the registry (services/common/registry.py).
    relay: RelayTuning = RelayTuning.of(Service.INVENTORY)
    worker: WorkerTuning = WorkerTuning.of(Service.INVENTORY)
