"""Tuning that every worker service's Settings carries (`<SERVICE>_WORKER_*`, `_RETRY_*`)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class WorkerSettings(ServiceSettings):
    # threads: the DESIGN measurements show the solo pool stalls with acks_late, and prefork
    # costs more per task here; our tasks are short and I/O bound (SQLite, SMTP).
    worker_pool: str = "threads"
    worker_concurrency: int = Field(default=4, ge=1)
    # Messages each pool slot may hold unacked. Short DB tasks: a few, so that work does not pile
    # up in one process while another idles.
    worker_prefetch_multiplier: int = Field(default=4, ge=1)
    # Unacked events the ingress step may hold; each is handed off in a few ms.
    ingress_prefetch: int = Field(default=32, ge=1)
    log_level: str = "INFO"

    # Transient failures: retry with backoff min(max, base * 2**n) + jitter, then dead-letter.
    retry_max: int = Field(default=6, ge=0)
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    retry_backoff_max_seconds: float = Field(default=60.0, ge=0)
