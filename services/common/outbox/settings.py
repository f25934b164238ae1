"""Relay tuning every publishing service's Settings carries: `RELAY_*` for every relay,
`<SERVICE>_RELAY_*` for one (services/common/settings.py). The relay takes this object as is."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.common.registry import Kind, Service, metrics_port, relay_wake_port
from services.common.settings import Knobs, ServiceSettings


class RelayTuning(Knobs):
    prefix: ClassVar[str] = "RELAY_"
    # Each publishing service needs its own ports: never read from a shared variable.
    per_service: ClassVar[frozenset[str]] = frozenset({"wake_host", "wake_port", "metrics_port"})

    batch_size: int = Field(
        default=100, ge=1, le=10_000, description="rows per pass; also the confirm window"
    )
    poll_interval: float = Field(
        default=1.0, gt=0, description="seconds between polls when no wake-up arrives"
    )
    backoff_initial: float = Field(
        default=0.1, gt=0, description="first wait after a failed pass (doubles, jittered)"
    )
    backoff_max: float = Field(default=5.0, gt=0, description="longest wait between passes")
    lease_ttl: float = Field(
        default=10.0, ge=1, description="a relay killed -9 is replaced after this many seconds"
    )
    wake_host: str = Field(default="127.0.0.1", description="UDP wake-up address of the relay")
    # Each service's own from the registry (`RelayTuning.of`); these are the first relay's.
    wake_port: int = Field(
        default=47301, ge=0, le=65535, description="UDP wake-up port (0: poll only)"
    )
    metrics_port: int = Field(
        default=9102, ge=0, le=65535, description="the relay's /metrics port (0: any free port)"
    )

    @classmethod
    def of(cls, service: Service) -> RelayTuning:
        """The defaults of `service`'s relay: its ports from the registry."""
        return cls(
            wake_port=relay_wake_port(service), metrics_port=metrics_port(service, Kind.RELAY)
        )


class RelaySettings(ServiceSettings):
    relay: RelayTuning = RelayTuning()
