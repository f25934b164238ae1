"""The shipping service's settings (env prefix `SHIPPING_`; docs/configuration.md).

Pool, concurrency, prefetch and the retry policy come from `WorkerSettings` (`WORKER_*`,
`RETRY_*`, overridable as `SHIPPING_WORKER_*`...), the relay's tuning from `RelaySettings`; their
ports come from the registry (services/common/registry.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from services.common.outbox.settings import RelaySettings, RelayTuning
from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import WorkerSettings, WorkerTuning


class Settings(WorkerSettings, RelaySettings):
    model_config = service_config(Service.SHIPPING)
    service: ClassVar[Service] = Service.SHIPPING

    database_url: str = Field(default="sqlite:///var/shipping.db", description="any SQLAlchemy URL")
    express_from: Decimal = Field(
        default=Decimal("100.00"),
        ge=0,
        description="an order whose total is at least this goes by the express carrier",
    )
    relay: RelayTuning = RelayTuning.of(Service.SHIPPING)
    worker: WorkerTuning = WorkerTuning.of(Service.SHIPPING)
