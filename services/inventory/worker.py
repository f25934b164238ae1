"""The inventory Celery worker.

    python -m services.inventory.worker
    # the same as:
    celery -A services.inventory.worker worker -Q inventory.tasks -n inventory@%h \
        --pool threads --concurrency 4 --task-events --without-gossip --without-mingle

The shared event ingress consumes `inventory.orders` and hands each valid `order.placed` to the
task `inventory.reserve_stock` and each `order.expired` to `inventory.release_stock`, on the
private queue `inventory.tasks` (services/inventory/handlers.py, release.py). Each commits its
`stock.*` answer to the outbox and wakes the inventory relay. Pool `threads`: the tasks are
short and wait on the database, and the solo pool stalls with acks_late
(docs/consuming-events.md).

Importing this module builds the Celery app from the environment and connects to nothing; the
database engine is built on the first task, once per process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from services.common.db import Database
from services.common.events import Envelope
from services.common.lazy import Lazy
from services.common.outbox import UdpWakeupSender
from services.common.topology import INVENTORY_EVENTS_QUEUE, ORDER_EXPIRED, ORDER_PLACED, Service
from services.common.worker.app import create_worker_app, worker_argv
from services.common.worker.ingress import install_event_ingress
from services.common.worker.tasks import event_task
from services.inventory.handlers import Result, reserve_stock
from services.inventory.release import release_stock
from services.inventory.settings import Settings

log = logging.getLogger("shopflow.inventory.worker")

RESERVE_TASK = "inventory.reserve_stock"
RELEASE_TASK = "inventory.release_stock"

settings = Settings()
app = create_worker_app(Service.INVENTORY, settings)
install_event_ingress(
    app,
    queue=INVENTORY_EVENTS_QUEUE,
    routes={ORDER_PLACED: RESERVE_TASK, ORDER_EXPIRED: RELEASE_TASK},
    prefetch=settings.ingress_prefetch,
)

# The process's engine, built on the first task (after a prefork fork, in each child).
database = Lazy(lambda: Database(settings.database_url))
wakeup = Lazy(lambda: UdpWakeupSender(settings.relay_wake_host, settings.relay_wake_port))


def handle_order_placed(event: Envelope[Any]) -> None:
    outcome = reserve_stock(event, database())
    wakeup().notify()
    pause = settings.fault_pause_after_commit_seconds
    if pause and outcome.result in (Result.RESERVED, Result.REJECTED):
        log.warning(
            "FAULT INJECTION: event %s committed; pausing %.1fs before the ack", event.id, pause
        )
        time.sleep(pause)


def handle_order_expired(event: Envelope[Any]) -> None:
    release_stock(event, database())
    wakeup().notify()


reserve = event_task(
    app, RESERVE_TASK, lambda: handle_order_placed, settings, event_types={ORDER_PLACED}
)
release = event_task(
    app, RELEASE_TASK, lambda: handle_order_expired, settings, event_types={ORDER_EXPIRED}
)

__all__ = ["app", "release", "reserve"]


def main() -> None:
    app.worker_main(worker_argv(Service.INVENTORY, settings))


if __name__ == "__main__":
    main()
