"""Shipping a confirmed order, exactly once: `dispatch_shipment`.

One transaction holds the inbox insert (a redelivered or duplicated `order.confirmed` changes
nothing), the shipment (primary key `order_id`: a second `order.confirmed` for the same order,
with another event id, changes nothing either), and its `shipment.dispatched` outbox row, which
the shipping relay publishes once the transaction committed (orders puts it on the order's
timeline, email tells the customer).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum

from services.common.db import Database, insert_unless_exists
from services.common.events import Envelope, OrderConfirmed
from services.common.events.shipping import ShipmentDispatched
from services.common.inbox import first_delivery
from services.common.outbox import add_event
from services.shipping.carriers import choose_carrier, tracking_number
from services.shipping.models import OutboxMessage, ProcessedEvent, Shipment
from services.shipping.settings import Settings

log = logging.getLogger("shopflow.shipping.dispatch")


class Result(StrEnum):
    DUPLICATE = "duplicate event, nothing changed"
    ALREADY_SHIPPED = "already shipped by another event, nothing changed"


def dispatch_shipment(event: Envelope[OrderConfirmed], db: Database, settings: Settings) -> str:
    """Returns what happened, as the log line says it."""
    order = event.data
    carrier = choose_carrier(order, settings.express_from)
    tracking = tracking_number(carrier, order.order_id)
    with db.transaction() as session:
        if not first_delivery(session, ProcessedEvent, event):
            outcome = Result.DUPLICATE.value
        elif not insert_unless_exists(
            session,
            Shipment,
            order_id=order.order_id,
            carrier=carrier.name,
            tracking_number=tracking,
            customer_email=order.customer_email,
            event_id=event.id,
            dispatched_at=(now := datetime.now(UTC)),
        ):
            outcome = Result.ALREADY_SHIPPED.value
        else:
            dispatched = ShipmentDispatched(
                order_id=order.order_id,
                customer_email=order.customer_email,
                carrier=carrier.name,
                tracking_number=tracking,
                dispatched_at=now,
            )
            add_event(
                session,
                OutboxMessage,
                Envelope.wrap(dispatched, correlation_id=event.correlationid),
                aggregate_id=order.order_id,
            )
            outcome = f"dispatched with {carrier.name}, tracking number {tracking}"
    log.info("%s for order %s: %s", event.describe(), order.order_id, outcome)
    return outcome
