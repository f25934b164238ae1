"""The orders service's settings (env prefix `ORDERS_`; docs/configuration.md)."""

from __future__ import annotations

from typing import ClassVar

from limits import parse_many
from pydantic import Field, SecretStr, field_validator

from services.common.outbox.settings import RelaySettings, RelayTuning
from services.common.registry import Kind, metrics_port
from services.common.settings import service_config
from services.common.topology import STOREFRONT, Service, user_name
from services.common.worker.settings import WorkerSettings, WorkerTuning


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
        default=2.0,
        gt=0,
        description="seconds the API's live updates wait for the broker when they connect; "
        "/ready reports a broker that did not answer in time",
    )

    # Who may do what over HTTP (docs/security.md). The token is a secret: no default. Only the
    # API needs it (and the storefront password below): the worker, beat and relay start without.
    operator_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="bearer token operators send to list orders (GET /orders), 16+ characters; "
        "the API refuses to start without it",
    )
    place_rate_limit: str = Field(
        default="300/minute",
        description="POST /orders per client address, in the notation of `limits` "
        "(`10/second`, `300/minute`; several joined with `;`); over it: 429",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='origins whose pages may call the API (a JSON list, `["https://shop.example"]`);'
        " empty: no cross-origin access",
    )

    # The API's live updates (docs/storefront.md) log in as `<vhost>-storefront`, not as the
    # service's own user: that login may only read a few order events (docs/topology.md).
    storefront_broker_password: SecretStr | None = Field(
        default=None,
        description="password of `<vhost>-storefront`, the login of the API's live updates; "
        "the API refuses to start without it",
    )
    # Metrics on a port of their own, not on the public API (docs/observability.md, "Ports").
    api_metrics_port: int = Field(
        default=metrics_port(Service.ORDERS, Kind.API),
        ge=0,
        le=65535,
        description="the API's /metrics port (0: any free port)",
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
        default=metrics_port(Service.ORDERS, Kind.BEAT),
        ge=0,
        le=65535,
        description="beat's /metrics port (0: any free port)",
    )
    relay: RelayTuning = RelayTuning.of(Service.ORDERS)
    worker: WorkerTuning = WorkerTuning.of(Service.ORDERS)

    @field_validator("place_rate_limit")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        parse_many(value)  # raises ValueError naming what it cannot read
        return value

    def api_secrets(self) -> tuple[SecretStr, SecretStr]:
        """The operator token and the storefront password, or one clear error naming what the
        API is missing (an .env made before they existed lacks them: `make env` adds them)."""
        token, password = self.operator_token, self.storefront_broker_password
        if token is None or password is None:
            missing = [
                name
                for name, value in (
                    ("ORDERS_OPERATOR_TOKEN", token),
                    ("ORDERS_STOREFRONT_BROKER_PASSWORD", password),
                )
                if value is None
            ]
            raise MissingSetting(
                f"the orders API needs {' and '.join(missing)}: set it in the environment or in "
                ".env (`make env` adds what .env.example has and .env lacks)"
            )
        return token, password

    def storefront_broker_urls(self, password: SecretStr) -> list[str]:
        """One URL per broker node, for the API's live updates (pika tries them in turn)."""
        return self.broker.amqp_urls(user_name(self.broker.vhost, STOREFRONT), password)


class MissingSetting(RuntimeError):
    """A setting a process needs is not set."""
