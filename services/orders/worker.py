"""The orders Celery worker: `python -m services.orders.worker`.

It consumes inventory's answers from `orders.inventory` through the shared event ingress (each
event becomes a task on the private queue `orders.tasks`; services/common/worker/service.py
derives the tasks and routes from the table below) and runs the expiry job that beat
(`python -m services.orders.beat`) schedules on the same private queue.
"""

from __future__ import annotations

from services.common.inbox_retention import inbox_expiry
from services.common.topology import (
    SHIPMENT_DISPATCHED,
    STOCK_REJECTED,
    STOCK_RELEASED,
    STOCK_RESERVED,
)
from services.common.worker.service import Every, Handler, ServiceWorker
from services.orders.bootstrap import bootstrap
from services.orders.decide import confirm_order, note_on_timeline, reject_order
from services.orders.expire import expire_pending_orders
from services.orders.models import ProcessedEvent
from services.orders.settings import Settings

HANDLERS: dict[str, Handler] = {
    STOCK_RESERVED: confirm_order,
    STOCK_REJECTED: reject_order,
    STOCK_RELEASED: note_on_timeline,
    SHIPMENT_DISPATCHED: note_on_timeline,
}

settings = Settings()
worker = ServiceWorker(
    settings,
    bootstrap,
    HANDLERS,
    periodic={"expire-pending-orders": Every(settings.expiry_check_seconds, expire_pending_orders)},
    inbox=inbox_expiry(ProcessedEvent),
)
app = worker.app

if __name__ == "__main__":
    worker.main()
