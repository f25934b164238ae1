"""The inventory service's settings (env prefix `INVENTORY_`, see .env.example).

Pool, concurrency, prefetch and the retry policy come from `WorkerSettings`
(`INVENTORY_WORKER_POOL`, `INVENTORY_RETRY_MAX`, ...).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.outbox.settings import RelaySettings
from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import WorkerSettings


class Settings(WorkerSettings, RelaySettings):
    model_config = service_config(Service.INVENTORY)
    service: ClassVar[Service] = Service.INVENTORY

    database_url: str = "sqlite:///var/inventory.db"
    # The inventory relay's wake-up port (the orders relay uses 47301).
    relay_wake_port: int = Field(default=47302, ge=0, le=65535)

    # Fault injection for tests and drills, never for production: after committing a
    # reservation the task waits this long before returning (so before its message is acked),
    # which lets a test kill -9 the worker between the commit and the ack. 0 = off.
    fault_pause_after_commit_seconds: float = Field(default=0.0, ge=0)
