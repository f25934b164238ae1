"""The orders service's settings (env prefix `ORDERS_`; docs/configuration.md)."""

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

    database_url: str = Field(default="sqlite:///var/orders.db", description="any SQLAlchemy URL")

    # HTTP API (python -m services.orders.api); compose sets http_host=0.0.0.0
    http_host: str = Field(default="127.0.0.1", description="the API's listening address")
    http_port: int = Field(default=8000, ge=1, le=65535, description="the API's port")
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="larger request bodies get 413"
    )
    ready_timeout: float = Field(
        default=2.0, gt=0, description="seconds /ready waits for the database and the broker"
    )
    # Metrics on a port of their own, not on the public API (docs/observability.md, "Ports").
    api_metrics_port: int = Field(
        default=9101, ge=0, le=65535, description="the API's /metrics port (0: any free port)"
    )

    # Order lifecycle (the worker and beat): an order still PENDING this long after it was placed
    # expires; beat asks the worker to look for such orders every `expiry_check_seconds`.
    pending_timeout_seconds: float = Field(
        default=300.0, gt=0, description="a PENDING order this old expires"
    )
    expiry_check_seconds: float = Field(
        default=10.0, gt=0, description="how often beat asks for the expiry check"
    )
    beat_metrics_port: int = Field(
        default=9104, ge=0, le=65535, description="beat's /metrics port (0: any free port)"
    )
