"""The orders service's settings (env prefix `ORDERS_`, see .env.example)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.outbox.settings import RelaySettings
from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import WorkerSettings


class Settings(WorkerSettings, RelaySettings):
    model_config = service_config(Service.ORDERS)
    service: ClassVar[Service] = Service.ORDERS

    database_url: str = "sqlite:///var/orders.db"

    # HTTP API (python -m services.orders.api); compose sets http_host=0.0.0.0
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    ready_timeout: float = Field(default=2.0, gt=0)

    # Outbox relay: ORDERS_RELAY_* (services/common/outbox/settings.py); wake-ups on udp 47301

    # Order lifecycle (the worker and beat): an order still PENDING this long after it was placed
    # expires; beat asks the worker to look for such orders every `expiry_check_seconds`.
    pending_timeout_seconds: float = Field(default=300.0, gt=0)
    expiry_check_seconds: float = Field(default=10.0, gt=0)
