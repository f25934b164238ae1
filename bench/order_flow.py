"""What one confirmed order sets moving, read from the topology and the email service's table:
the events it causes (services/common/topology/flow.py), the deliveries of them to the services'
workers (the hand-offs the capacity stage's floor counts), the mails its customer gets and the
services whose outboxes hold the events those mails answer (what "settled" waits for)."""

from __future__ import annotations

from services.common.topology import (
    EVENT_SUBSCRIPTIONS,
    ORDER_CONFIRMED,
    Service,
    order_events,
    publishers,
)
from services.email.mails import MAILS_BY_EVENT

CONFIRMED_ORDER_EVENTS = order_events(ORDER_CONFIRMED)


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
    """The mails a confirmed order's customer gets, one per mail of each of its events."""
    return sum(len(MAILS_BY_EVENT.get(event_type, ())) for event_type in CONFIRMED_ORDER_EVENTS)


def mail_sources() -> tuple[Service, ...]:
    """The services that publish a confirmed order's mailed events, in the registry's order: a
    mail's event id is the id of the event in its publisher's outbox."""
    mailed = [e for e in CONFIRMED_ORDER_EVENTS if MAILS_BY_EVENT.get(e)]
    found = {service for event_type in mailed for service in publishers(event_type)}
    return tuple(service for service in Service if service in found)
