"""Celery beat for the orders service: `python -m services.orders.beat`.

It publishes the expiry task to the private queue `orders.tasks` every
`ORDERS_EXPIRY_CHECK_SECONDS`, as the orders broker user. Run exactly one.

The scheduler is celery's in-memory `Scheduler`, not the default shelve-backed one: the only
entry is a fixed interval whose job is idempotent, so a persisted "last run" buys nothing and a
state file would only be one more thing to lock, corrupt or clean up. A second beat by mistake is
harmless too: the expiry moves an order only if it is still PENDING.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from services.common.observability.metrics import BEAT_SENT
from services.common.observability.workers import observe_celery
from services.orders.worker import app, settings


def count_sent(sender: str | None = None, **_kwargs: Any) -> None:
    BEAT_SENT.labels(str(sender)).inc()


def main() -> None:
    # Beat's ticks start no traces: each would be a trace of its own every few seconds. The
    # worker still traces the expiry it runs (a trace per tick, with what it expired).
    observe_celery("orders-beat", "orders", settings, settings.beat_metrics_port, trace_tasks=False)
    for entry in app.conf.beat_schedule.values():
        BEAT_SENT.labels(entry["task"])  # at 0 from the start
    signals.after_task_publish.connect(count_sent, weak=False)
    app.start(
        [
            "beat",
            "--scheduler=celery.beat:Scheduler",
            f"--loglevel={settings.log.level}",
        ]
    )


if __name__ == "__main__":
    main()
