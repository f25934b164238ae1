"""The orders Celery worker: `python -m services.orders.worker`.

It consumes inventory's answers from `orders.inventory` through the shared event ingress (each
event becomes a task on the private queue `orders.tasks`) and runs the expiry job that beat
(`python -m services.orders.beat`) schedules on the same private queue.

Importing this module builds the Celery app from the environment and connects to nothing; the
database and the relay wake-up sender are built on the first task, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from services.common.events import Envelope
from services.common.lazy import Lazy
from services.common.topology import (
    ORDERS_EVENTS_QUEUE,
    STOCK_REJECTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
    Service,
)
from services.common.worker.app import create_worker_app, worker_argv
from services.common.worker.ingress import install_event_ingress
from services.common.worker.tasks import event_task
from services.orders.bootstrap import bootstrap
from services.orders.expiry import expire_pending_orders
from services.orders.lifecycle import confirm_order, record_stock_released, reject_order
from services.orders.settings import Settings

log = logging.getLogger("shopflow.orders.worker")

CONFIRM_TASK = "orders.confirm_order"
REJECT_TASK = "orders.reject_order"
RECORD_RELEASED_TASK = "orders.record_stock_released"
EXPIRE_TASK = "orders.expire_pending_orders"

settings = Settings()
app = create_worker_app(Service.ORDERS, settings)
install_event_ingress(
    app,
    queue=ORDERS_EVENTS_QUEUE,
    routes={
        STOCK_RESERVED: CONFIRM_TASK,
        STOCK_REJECTED: REJECT_TASK,
        STOCK_RELEASED: RECORD_RELEASED_TASK,
    },
    prefetch=settings.ingress_prefetch,
)
app.conf.beat_schedule = {
    "expire-pending-orders": {
        "task": EXPIRE_TASK,
        "schedule": settings.expiry_check_seconds,
        # No `expires`: Celery turns it into a per-message TTL, and the broker would dead-letter
        # every tick no worker took in time into orders.tasks.dlq. Ticks that piled up while no
        # worker ran are harmless: the first one expires what is due, the rest find nothing.
    }
}

# The process's objects (engine, wake-up socket), built on the first task, once per process.
container = Lazy(lambda: bootstrap(settings))


def _handler(
    handle: Callable[[Any, Any, Callable[[], None]], object],
) -> Callable[[], Callable[[Envelope[Any]], object]]:
    def factory() -> Callable[[Envelope[Any]], object]:
        c = container()
        return lambda event: handle(event, c.db, c.notify_relay)

    return factory


confirm = event_task(
    app, CONFIRM_TASK, _handler(confirm_order), settings, event_types={STOCK_RESERVED}
)
reject = event_task(
    app, REJECT_TASK, _handler(reject_order), settings, event_types={STOCK_REJECTED}
)
record_released = event_task(
    app,
    RECORD_RELEASED_TASK,
    _handler(record_stock_released),
    settings,
    event_types={STOCK_RELEASED},
)


@app.task(name=EXPIRE_TASK)
def expire_pending() -> int:
    c = container()
    try:
        return expire_pending_orders(c.db, settings.pending_timeout_seconds, c.notify_relay)
    except OperationalError as exc:
        # Database locked or unreachable: the next tick (every expiry_check_seconds) tries again.
        log.warning("expiry check skipped, database unavailable: %s", exc)
        return 0


def main() -> None:
    app.worker_main(worker_argv(Service.ORDERS, settings))


if __name__ == "__main__":
    main()
