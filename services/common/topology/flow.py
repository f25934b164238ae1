"""What one order sets moving, read from the routing tables: every event of its life, from
`order.placed` to the last one a decision about it causes.

The start is the orders and inventory saga: placed, inventory's answer, orders' decision. What
follows is derived, so that a service joining the saga changes it only by its own rows in
`routing`: each service that consumes the decision and publishes events adds its exchange's
events (each published once for the order), and each of those that orders consumes adds an
`order.updated` (orders notes another service's event on the order's timeline).
"""

from __future__ import annotations

from services.common.registry import Service
from services.common.topology.routing import (
    EVENT_EXCHANGES,
    EVENT_PUBLICATIONS,
    EVENT_SUBSCRIPTIONS,
    ORDER_CONFIRMED,
    ORDER_PLACED,
    ORDER_REJECTED,
    ORDER_UPDATED,
    STOCK_REJECTED,
    STOCK_RESERVED,
)

# Orders' decision -> inventory's answer that leads to it.
_ANSWER = {ORDER_CONFIRMED: STOCK_RESERVED, ORDER_REJECTED: STOCK_REJECTED}


def consumers(event_type: str) -> tuple[Service, ...]:
    """The services whose event queues are bound to `event_type`."""
    return tuple(
        service
        for service, subscriptions in EVENT_SUBSCRIPTIONS.items()
        if any(event_type in keys for _queue, _exchange, keys in subscriptions)
    )


def publishers(event_type: str) -> tuple[Service, ...]:
    """The services that publish `event_type` (on an exchange whose routing keys include it)."""
    return tuple(
        service
        for service, publications in EVENT_PUBLICATIONS.items()
        if any(event_type in EVENT_EXCHANGES[exchange] for exchange, _pattern in publications)
    )


def order_events(decision: str) -> tuple[str, ...]:
    """Every event of an order that ends in `decision` (ORDER_CONFIRMED or ORDER_REJECTED), in
    order: placed, inventory's answer, the decision, what the decision's consumers publish, and
    orders' note of each of those on the order's timeline."""
    caused = tuple(
        event_type
        for service in consumers(decision)
        if service is not Service.ORDERS
        for exchange, _pattern in EVENT_PUBLICATIONS.get(service, ())
        for event_type in EVENT_EXCHANGES[exchange]
    )
    noted = tuple(ORDER_UPDATED for e in caused if Service.ORDERS in consumers(e))
    return (ORDER_PLACED, _ANSWER[decision], decision, *caused, *noted)
