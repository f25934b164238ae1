"""The inventory Celery worker: `python -m services.inventory.worker`.

The shared event ingress consumes `inventory.orders` and hands each valid event to its task on
the private queue `inventory.tasks`: `order.placed` to `inventory.reserve_stock`, `order.expired`
to `inventory.release_stock` (services/common/worker/service.py derives both from the table
below). Each commits its `stock.*` answer to the outbox; the inventory relay publishes it.
"""

from __future__ import annotations

from services.common.inbox_retention import inbox_expiry
from services.common.topology import ORDER_EXPIRED, ORDER_PLACED
from services.common.worker.service import Handler, ServiceWorker
from services.inventory.bootstrap import bootstrap
from services.inventory.models import ProcessedEvent
from services.inventory.release import release_stock
from services.inventory.reserve import reserve_stock
from services.inventory.settings import Settings

HANDLERS: dict[str, Handler] = {ORDER_PLACED: reserve_stock, ORDER_EXPIRED: release_stock}

worker = ServiceWorker(Settings(), bootstrap, HANDLERS, inbox=inbox_expiry(ProcessedEvent))
app = worker.app

if __name__ == "__main__":
    worker.main()
