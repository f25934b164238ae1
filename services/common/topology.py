"""The broker topology, defined once.

Everything that exists in the vhost is described here: exchanges, queues, bindings, the
dead-letter policies and each service's permissions. The vhost tool (`python -m broker.provision`)
applies it; services and tests import the names from here and never declare shared objects.

Naming:
- routing keys are `<entity>.<past-tense verb>`, and equal the event `type`;
- a service's event queue is `<service>.<source exchange>` (e.g. `inventory.orders`);
- its private Celery task queue is `<service>.tasks`, behind the direct exchange `<service>.tasks`;
- every queue dead-letters through its service's DLX `<service>.dlx` with the routing key set to
  the queue's own name, into `<queue>.dlq`. So dead letters from different queues never mix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import StrEnum

DEFAULT_VHOST = "shop"


class Service(StrEnum):
    ORDERS = "orders"
    INVENTORY = "inventory"
    EMAIL = "email"


class QueueType(StrEnum):
    CLASSIC = "classic"
    QUORUM = "quorum"


def user_name(vhost: str, service: Service | str) -> str:
    """Broker login of a service (or of `monitor`) in a vhost: `shop-orders`, `shop-monitor`..."""
    return f"{vhost}-{service}"


MONITOR = "monitor"  # the read-only login for people (management UI)
FLOWER = "flower"  # Flower: reads Celery task events, may ask workers for their state


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str  # topic | direct | fanout
    owner: Service | None = None  # the service allowed to publish to it
    alternate: str | None = None  # set by policy, so it can change without redeclaring


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class Queue:
    name: str
    owner: Service | None  # the service that consumes it; None for sinks people read
    dead_letter_exchange: str | None = None  # None: this queue is itself a sink

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True)
class Policy:
    name: str
    pattern: str
    apply_to: str  # "queues" | "exchanges" (3.10 knows only queues/exchanges/all)
    definition: dict[str, str | int]
    priority: int = 10


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class UserSpec:
    name: str
    tags: tuple[str, ...]
    permissions: Permissions
    topic_permissions: tuple[TopicPermission, ...] = ()
    service: Service | None = None
    role: str | None = None  # for logins that are not a service: MONITOR, FLOWER


# ---- names every piece of code imports -------------------------------------------------------

ORDERS_EXCHANGE = "orders"


def unroutable(exchange: str) -> str:
    """The alternate exchange of an event exchange, and the queue behind it."""
    return f"{exchange}.unroutable"


ORDERS_UNROUTABLE_EXCHANGE = unroutable(ORDERS_EXCHANGE)
ORDERS_UNROUTABLE_QUEUE = unroutable(ORDERS_EXCHANGE)

ORDER_PLACED = "order.placed"
ORDER_CONFIRMED = "order.confirmed"
ORDER_REJECTED = "order.rejected"
ORDER_EXPIRED = "order.expired"

INVENTORY_EXCHANGE = "inventory"
STOCK_RESERVED = "stock.reserved"
STOCK_REJECTED = "stock.rejected"
STOCK_RELEASED = "stock.released"

INVENTORY_EVENTS_QUEUE = "inventory.orders"
EMAIL_EVENTS_QUEUE = "email.orders"
ORDERS_EVENTS_QUEUE = "orders.inventory"

# Every event exchange and the routing keys (= event types) that may be published on it.
EVENT_EXCHANGES: dict[str, tuple[str, ...]] = {
    ORDERS_EXCHANGE: (ORDER_PLACED, ORDER_CONFIRMED, ORDER_REJECTED, ORDER_EXPIRED),
    INVENTORY_EXCHANGE: (STOCK_RESERVED, STOCK_REJECTED, STOCK_RELEASED),
}


def task_queue(service: Service) -> str:
    """The private Celery task queue of a service (also the name of its direct exchange)."""
    return f"{service}.tasks"


def dead_letter_exchange(service: Service) -> str:
    return f"{service}.dlx"


@dataclass(frozen=True)
class Topology:
    vhost: str
    queue_type: QueueType
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    policies: tuple[Policy, ...]
    users: tuple[UserSpec, ...] = field(default=())

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def user(self, service: Service | str) -> UserSpec:
        wanted = user_name(self.vhost, service)
        return next(u for u in self.users if u.name == wanted)

    @property
    def dead_letter_queues(self) -> tuple[str, ...]:
        return tuple(q.dead_letter_queue for q in self.queues if q.dead_letter_exchange)


# Which event queues each service consumes, and which routing keys feed them.
EVENT_SUBSCRIPTIONS: dict[Service, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    # service: ((queue, exchange, (binding keys...)), ...)
    # order.placed and order.expired share one queue, so inventory normally sees them in order.
    Service.INVENTORY: ((INVENTORY_EVENTS_QUEUE, ORDERS_EXCHANGE, (ORDER_PLACED, ORDER_EXPIRED)),),
    Service.EMAIL: (
        (EMAIL_EVENTS_QUEUE, ORDERS_EXCHANGE, (ORDER_PLACED, ORDER_CONFIRMED, ORDER_REJECTED)),
    ),
    Service.ORDERS: (
        (ORDERS_EVENTS_QUEUE, INVENTORY_EXCHANGE, (STOCK_RESERVED, STOCK_REJECTED, STOCK_RELEASED)),
    ),
}

# Which exchanges each service publishes events to, and the routing keys it may use there.
EVENT_PUBLICATIONS: dict[Service, tuple[tuple[str, str], ...]] = {
    Service.ORDERS: ((ORDERS_EXCHANGE, r"^order\.[a-z_]+$"),),
    Service.INVENTORY: ((INVENTORY_EXCHANGE, r"^stock\.[a-z_]+$"),),
}

# Services that run a Celery worker (and so own a private task queue).
WORKER_SERVICES: tuple[Service, ...] = (Service.INVENTORY, Service.EMAIL, Service.ORDERS)


def celery_internals(service: Service) -> tuple[list[str], list[str]]:
    """Regex fragments for what a Celery worker of `service` declares for itself.

    Returns (exchanges, queues): the event exchange `celeryev` (Flower reads task events from it),
    the remote-control exchanges `celery.pidbox`/`reply.celery.pidbox`, and the worker's own pidbox
    queue, which Celery names `<nodename>.celery.pidbox`; nodes must be named `<service>@<host>`.
    """
    exchanges = [r"celeryev", r"celery\.pidbox", r"reply\.celery\.pidbox"]
    queues = [rf"{service}@.+\.celery\.pidbox"]
    return exchanges, queues


def _regex(literal: list[str], patterns: list[str] | None = None) -> str:
    parts = [re.escape(n) for n in sorted(set(literal))] + (patterns or [])
    return "^(" + "|".join(parts) + ")$" if parts else "^$"


def service_permissions(service: Service) -> tuple[Permissions, tuple[TopicPermission, ...]]:
    """Least privilege, derived from the subscriptions and publications above."""
    publishes = [ex for ex, _ in EVENT_PUBLICATIONS.get(service, ())]
    consumes = [q for q, _, _ in EVENT_SUBSCRIPTIONS.get(service, ())]
    write: list[str] = list(publishes)
    read: list[str] = list(consumes)
    configure: list[str] = []
    patterns_c: list[str] = []
    patterns_w: list[str] = []
    patterns_r: list[str] = []
    if service in WORKER_SERVICES:
        tq = task_queue(service)
        write.append(tq)  # the direct exchange in front of the private queue
        read.append(tq)  # the private queue itself
        ex_patterns, q_patterns = celery_internals(service)
        # Celery declares its own event/control exchanges and its pidbox queue, binds the queue
        # to `celery.pidbox` (write on the queue, read on the exchange), publishes task events to
        # `celeryev` and replies to `reply.celery.pidbox`. It never broadcasts on `celery.pidbox`
        # nor reads `celeryev` (no mingle, no gossip): with those, one service's login could shut
        # down every other service's workers, or read their task arguments.
        patterns_c = ex_patterns + q_patterns
        patterns_w = [r"celeryev", r"reply\.celery\.pidbox", *q_patterns]
        patterns_r = [r"celery\.pidbox", *q_patterns]
    topics = tuple(
        TopicPermission(exchange=ex, write=keys, read="^$")
        for ex, keys in EVENT_PUBLICATIONS.get(service, ())
    )
    return (
        Permissions(
            configure=_regex(configure, patterns_c),
            write=_regex(write, patterns_w),
            read=_regex(read, patterns_r),
        ),
        topics,
    )


def build(vhost: str = DEFAULT_VHOST, queue_type: QueueType | None = None) -> Topology:
    """The whole topology of one vhost. `queue_type` defaults to $BROKER_QUEUE_TYPE or classic."""
    qtype = queue_type or QueueType(os.environ.get("BROKER_QUEUE_TYPE", QueueType.CLASSIC))
    exchanges: list[Exchange] = []
    queues: list[Queue] = []
    bindings: list[Binding] = []
    # Each event exchange is a topic exchange whose unroutable messages wait in a queue.
    for service, publications in EVENT_PUBLICATIONS.items():
        for exchange, _ in publications:
            exchanges.append(
                Exchange(exchange, "topic", owner=service, alternate=unroutable(exchange))
            )
            exchanges.append(Exchange(unroutable(exchange), "fanout"))
            queues.append(Queue(unroutable(exchange), owner=None))
            bindings.append(Binding(unroutable(exchange), unroutable(exchange), ""))

    for service, subscriptions in EVENT_SUBSCRIPTIONS.items():
        dlx = dead_letter_exchange(service)
        for queue_name, exchange, keys in subscriptions:
            queues.append(Queue(queue_name, owner=service, dead_letter_exchange=dlx))
            bindings.extend(Binding(exchange, queue_name, key) for key in keys)
    for service in WORKER_SERVICES:
        tq = task_queue(service)
        exchanges.append(Exchange(tq, "direct", owner=service))
        queues.append(Queue(tq, owner=service, dead_letter_exchange=dead_letter_exchange(service)))
        bindings.append(Binding(tq, tq, tq))

    # Dead-letter exchanges and queues: one DLX per service, one DLQ per queue.
    for dlx in sorted({q.dead_letter_exchange for q in queues if q.dead_letter_exchange}):
        exchanges.append(Exchange(dlx, "direct"))
    for q in list(queues):
        if q.dead_letter_exchange:
            queues.append(Queue(q.dead_letter_queue, owner=None))
            bindings.append(Binding(q.dead_letter_exchange, q.dead_letter_queue, q.name))

    policies: list[Policy] = [
        Policy(
            name=f"dead-letter.{q.name}",
            pattern=f"^{re.escape(q.name)}$",
            apply_to="queues",
            definition={
                "dead-letter-exchange": q.dead_letter_exchange,
                "dead-letter-routing-key": q.name,
            },
        )
        for q in queues
        if q.dead_letter_exchange
    ]
    policies.extend(
        Policy(
            name=f"alternate-exchange.{ex.name}",
            pattern=f"^{re.escape(ex.name)}$",
            apply_to="exchanges",
            definition={"alternate-exchange": ex.alternate},
        )
        for ex in exchanges
        if ex.alternate
    )

    users: list[UserSpec] = []
    for service in Service:
        perms, topics = service_permissions(service)
        users.append(UserSpec(user_name(vhost, service), (), perms, topics, service=service))
    users.append(
        UserSpec(
            user_name(vhost, MONITOR),
            ("monitoring",),
            # Read-only: sees every queue in the UI and can "Get messages" (requeued), but can
            # neither declare, delete nor publish.
            Permissions(configure="^$", write="^$", read=".*"),
            role=MONITOR,
        )
    )
    # Flower declares its own auto-delete event queue `celeryev.<uuid>` bound to `celeryev`;
    # for "inspect" it broadcasts on `celery.pidbox` and reads replies from
    # `<uuid>.reply.celery.pidbox`. It can touch no event exchange and no service queue.
    flower_queues = [r"celeryev\..+", r".+\.reply\.celery\.pidbox"]
    flower_exchanges = [r"celeryev", r"celery\.pidbox", r"reply\.celery\.pidbox"]
    users.append(
        UserSpec(
            user_name(vhost, FLOWER),
            (),
            Permissions(
                configure=_regex([], flower_queues + flower_exchanges),
                write=_regex([], [*flower_queues, r"celery\.pidbox"]),
                read=_regex([], [*flower_queues, r"celeryev", r"reply\.celery\.pidbox"]),
            ),
            role=FLOWER,
        )
    )
    return Topology(
        vhost=vhost,
        queue_type=qtype,
        exchanges=tuple(exchanges),
        queues=tuple(queues),
        bindings=tuple(bindings),
        policies=tuple(policies),
        users=tuple(users),
    )
