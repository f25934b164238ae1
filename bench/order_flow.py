"""What one confirmed order sets moving, read from the topology and the email service's table:
the events it causes, the deliveries of them to the services' workers (the hand-offs the
capacity stage's floor counts), and the mails its customer gets (what "settled" waits for)."""

from __future__ import annotations

from services.common.topology import (
    EVENT_SUBSCRIPTIONS,
    ORDER_CONFIRMED,
    ORDER_PLACED,
    ORDER_UPDATED,
    SHIPMENT_DISPATCHED,
    STOCK_RESERVED,
)
from services.email.mails import MAILS_BY_EVENT

# Every event of a confirmed order's life, in order: placed, reserved, confirmed, shipped, and
# orders' note of the shipment on its timeline.
CONFIRMED_ORDER_EVENTS = (
    ORDER_PLACED,
    STOCK_RESERVED,
    ORDER_CONFIRMED,
    SHIPMENT_DISPATCHED,
    ORDER_UPDATED,
)


def hand_offs_per_order() -> int:
    """Deliveries of a confirmed order's events to the services' event queues."""
    return sum(
        1
        for event_type in CONFIRMED_ORDER_EVENTS
        for subscriptions in EVENT_SUBSCRIPTIONS.values()
        for _queue, _exchange, keys in subscriptions
        if event_type in keys
    )


def mails_per_order() -> int:
    """The mails a confirmed order's customer gets: received, confirmed, on its way."""
    return sum(len(MAILS_BY_EVENT.get(event_type, ())) for event_type in CONFIRMED_ORDER_EVENTS)
