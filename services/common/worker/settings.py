"""What every worker service's Settings carries: pool tuning and the retry policy.

Shared variables `WORKER_*` and `RETRY_*` apply to every worker; `<SERVICE>_WORKER_*` and
`<SERVICE>_RETRY_*` override them for one service (services/common/settings.py).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from services.common.registry import Kind, Service, metrics_port
from services.common.settings import Knobs, ServiceSettings


class WorkerTuning(Knobs):
    prefix: ClassVar[str] = "WORKER_"
    # Each service's worker serves its metrics on a port of its own: never a shared variable.
    per_service: ClassVar[frozenset[str]] = frozenset({"metrics_port"})

    # threads: the solo pool stalls with acks_late (its ack waits behind a ~2 s timer), and
    # prefork costs more per task here; our tasks are short and wait on SQLite or SMTP.
    pool: Literal["threads", "prefork"] = Field(
        default="threads", description="Celery pool: threads or prefork"
    )
    concurrency: int = Field(default=4, ge=1, description="tasks run at once per worker process")
    # Short DB tasks: a few per slot, so that work does not pile up in one process while
    # another idles. The one bound on what a worker holds: concurrency x this many unacked
    # events (and as many retries waiting on the private queue).
    prefetch_multiplier: int = Field(
        default=4, ge=1, description="unacked events (and retries) each pool slot may hold"
    )
    # Each service's own from the registry (`WorkerTuning.of`); this is the orders worker's.
    metrics_port: int = Field(
        default=9103, ge=0, le=65535, description="the worker's /metrics port (0: any free port)"
    )

    @classmethod
    def of(cls, service: Service, **defaults: Any) -> WorkerTuning:
        """The defaults of `service`'s worker: its /metrics port from the registry."""
        return cls(metrics_port=metrics_port(service, Kind.WORKER), **defaults)


class RetryPolicy(Knobs):
    """Transient failures: retry after c/2 + U(0, c/2) seconds, c = min(backoff_max_seconds,
    backoff_seconds * 2**n) (n = retries so far), at most `max` times, then dead-letter."""

    prefix: ClassVar[str] = "RETRY_"

    max: int = Field(default=6, ge=0, description="retries of a transient failure")
    backoff_seconds: float = Field(default=1.0, ge=0, description="first backoff ceiling")
    backoff_max_seconds: float = Field(default=60.0, ge=0, description="largest backoff ceiling")


class WorkerSettings(ServiceSettings):
    # Each service names its own (and its default file): the handlers' database, whose inbox the
    # worker also prunes (services/common/worker/inbox_pruning.py).
    database_url: str = Field(description="any SQLAlchemy URL")
    worker: WorkerTuning = WorkerTuning()
    retry: RetryPolicy = RetryPolicy()
