"""The shipping Celery worker: `python -m services.shipping.worker`.

It consumes `shipping.orders` (every `order.confirmed`) and ships each order once
(services/shipping/dispatch.py); the shipping relay publishes the `shipment.dispatched` it commits.
"""

from __future__ import annotations

from services.common.inbox_retention import inbox_expiry
from services.common.topology import ORDER_CONFIRMED
from services.common.worker.service import Handler, ServiceWorker
from services.shipping.bootstrap import bootstrap
from services.shipping.dispatch import dispatch_shipment
from services.shipping.models import ProcessedEvent
from services.shipping.settings import Settings

HANDLERS: dict[str, Handler] = {ORDER_CONFIRMED: dispatch_shipment}

worker = ServiceWorker(Settings(), bootstrap, HANDLERS, inbox=inbox_expiry(ProcessedEvent))
app = worker.app

if __name__ == "__main__":
    worker.main()
