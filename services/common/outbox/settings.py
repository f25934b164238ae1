"""Relay tuning every publishing service's Settings carries (`<SERVICE>_RELAY_*`)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class RelaySettings(ServiceSettings):
    # The relay listens for UDP wake-ups here; the processes that commit outbox rows send them
    # here. Each publishing service needs its own port. 0: no wake-ups, poll only.
    relay_wake_host: str = "127.0.0.1"
    relay_wake_port: int = Field(default=47301, ge=0, le=65535)
    relay_poll_interval: float = Field(default=1.0, gt=0)
    relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    relay_backoff_initial: float = Field(default=0.1, gt=0)
    relay_backoff_max: float = Field(default=5.0, gt=0)
    relay_lease_ttl: float = Field(default=10.0, ge=1)
