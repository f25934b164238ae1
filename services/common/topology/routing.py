"""Who publishes what where, and who subscribes to it: the event exchanges, their routing keys
and the event queues.

Routing keys are `<entity>.<past-tense verb>` and equal the event `type`. A service's event queue
is `<service>.<source exchange>` (e.g. `inventory.orders`).
"""

from __future__ import annotations

from services.common.registry import Kind, Service, runs
from services.common.topology.names import unroutable

__all__ = [
    "EMAIL_EVENTS_QUEUE",
    "EVENT_EXCHANGES",
    "EVENT_PUBLICATIONS",
    "EVENT_SUBSCRIPTIONS",
    "INVENTORY_EVENTS_QUEUE",
    "INVENTORY_EXCHANGE",
    "LIVE_EXCHANGE",
    "LIVE_ROUTING_KEYS",
    "ORDERS_EVENTS_QUEUE",
    "ORDERS_EXCHANGE",
    "ORDERS_UNROUTABLE_QUEUE",
    "ORDER_CONFIRMED",
    "ORDER_EXPIRED",
    "ORDER_PLACED",
    "ORDER_REJECTED",
    "ORDER_UPDATED",
    "REPLAY_EXCHANGE",
    "REPLAY_MARKER_EXCHANGE",
    "SHIPMENT_DISPATCHED",
    "SHIPPING_EVENTS_QUEUE",
    "SHIPPING_EXCHANGE",
    "STOCK_REJECTED",
    "STOCK_RELEASED",
    "STOCK_RESERVED",
    "WORKER_SERVICES",
]

ORDERS_EXCHANGE = "orders"
ORDERS_UNROUTABLE_QUEUE = unroutable(ORDERS_EXCHANGE)

ORDER_PLACED = "order.placed"
ORDER_CONFIRMED = "order.confirmed"
ORDER_REJECTED = "order.rejected"
ORDER_EXPIRED = "order.expired"
ORDER_UPDATED = "order.updated"

INVENTORY_EXCHANGE = "inventory"
STOCK_RESERVED = "stock.reserved"
STOCK_REJECTED = "stock.rejected"
STOCK_RELEASED = "stock.released"

SHIPPING_EXCHANGE = "shipping"
SHIPMENT_DISPATCHED = "shipment.dispatched"

INVENTORY_EVENTS_QUEUE = "inventory.orders"
SHIPPING_EVENTS_QUEUE = "shipping.orders"
EMAIL_EVENTS_QUEUE = "email.orders"
ORDERS_EVENTS_QUEUE = "orders.inventory"

# Every event exchange and the routing keys (= event types) that may be published on it.
EVENT_EXCHANGES: dict[str, tuple[str, ...]] = {
    ORDERS_EXCHANGE: (ORDER_PLACED, ORDER_CONFIRMED, ORDER_REJECTED, ORDER_EXPIRED, ORDER_UPDATED),
    INVENTORY_EXCHANGE: (STOCK_RESERVED, STOCK_REJECTED, STOCK_RELEASED),
    SHIPPING_EXCHANGE: (SHIPMENT_DISPATCHED,),
}

# Which event queues each service consumes, and which routing keys feed them.
EVENT_SUBSCRIPTIONS: dict[Service, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    # service: ((queue, exchange, (binding keys...)), ...)
    # order.placed and order.expired share one queue, so inventory normally sees them in order.
    Service.INVENTORY: ((INVENTORY_EVENTS_QUEUE, ORDERS_EXCHANGE, (ORDER_PLACED, ORDER_EXPIRED)),),
    Service.EMAIL: (
        (EMAIL_EVENTS_QUEUE, ORDERS_EXCHANGE, (ORDER_PLACED, ORDER_CONFIRMED, ORDER_REJECTED)),
        ("email.shipping", SHIPPING_EXCHANGE, (SHIPMENT_DISPATCHED,)),
    ),
    Service.ORDERS: (
        (ORDERS_EVENTS_QUEUE, INVENTORY_EXCHANGE, (STOCK_RESERVED, STOCK_REJECTED, STOCK_RELEASED)),
        ("orders.shipping", SHIPPING_EXCHANGE, (SHIPMENT_DISPATCHED,)),
    ),
    # A confirmed order is shipped.
    Service.SHIPPING: ((SHIPPING_EVENTS_QUEUE, ORDERS_EXCHANGE, (ORDER_CONFIRMED,)),),
}

# Which exchanges each service publishes events to, and the routing keys it may use there.
EVENT_PUBLICATIONS: dict[Service, tuple[tuple[str, str], ...]] = {
    Service.ORDERS: ((ORDERS_EXCHANGE, r"^order\.[a-z_]+$"),),
    Service.INVENTORY: ((INVENTORY_EXCHANGE, r"^stock\.[a-z_]+$"),),
    Service.SHIPPING: ((SHIPPING_EXCHANGE, r"^shipment\.[a-z_]+$"),),
}

# What the orders API's live updates read (docs/storefront.md): the events that end PENDING, and
# `order.updated`, which orders publishes when it adds a step to an order's timeline because of
# another service's event (a release of stock, a shipment): each is published after the step it
# announces was committed, so a page that reads the timeline on it finds the step. Not a
# service's event queue: each API process binds an exclusive, server-named queue of its own with
# these keys, which lives as long as its connection. order.placed is not among them: the page of
# an order opens after its first step is committed.
LIVE_EXCHANGE = ORDERS_EXCHANGE
LIVE_ROUTING_KEYS: tuple[str, ...] = (ORDER_CONFIRMED, ORDER_REJECTED, ORDER_EXPIRED, ORDER_UPDATED)

# The event log's replays (docs/event-log.md). A replay reaches exactly one event queue through
# REPLAY_EXCHANGE (direct, each event queue bound with its own name); the replay tool ends each
# read of an event log at a marker it writes through REPLAY_MARKER_EXCHANGE (direct, each log
# bound with its own name). Only the replay login may publish to either.
REPLAY_EXCHANGE = "replay"
REPLAY_MARKER_EXCHANGE = "replay.markers"

# Services that run a Celery worker (and so own a private task queue).
WORKER_SERVICES: tuple[Service, ...] = tuple(s for s in Service if runs(s, Kind.WORKER))
