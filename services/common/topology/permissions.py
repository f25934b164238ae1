"""Least privilege as regexes: what each login may configure, write and read in the vhost.

A service's rights are derived from the routing tables (what it publishes, what it consumes) and
from what its Celery worker declares for itself; nothing is granted by hand.
"""

from __future__ import annotations

import re

from services.common.registry import Service
from services.common.topology.model import Permissions, TopicPermission
from services.common.topology.names import event_log, task_queue
from services.common.topology.routing import (
    EVENT_EXCHANGES,
    EVENT_PUBLICATIONS,
    EVENT_SUBSCRIPTIONS,
    LIVE_EXCHANGE,
    LIVE_ROUTING_KEYS,
    REPLAY_EXCHANGE,
    REPLAY_MARKER_EXCHANGE,
    WORKER_SERVICES,
)

# The names RabbitMQ gives the queues it names itself (`queue.declare` with an empty name). No
# client may declare a queue whose name starts with `amq.`, so this pattern admits only those.
SERVER_NAMED_QUEUE = r"amq\.gen-.+"


def _regex(literal: list[str], patterns: list[str] | None = None) -> str:
    parts = [re.escape(n) for n in sorted(set(literal))] + (patterns or [])
    return "^(" + "|".join(parts) + ")$" if parts else "^$"


def celery_internals(service: Service) -> tuple[list[str], list[str]]:
    """Regex fragments for what a Celery worker of `service` declares for itself.

    Returns (exchanges, queues): the event exchange `celeryev` (Flower reads task events from it),
    the remote-control exchanges `celery.pidbox`/`reply.celery.pidbox`, and the worker's own pidbox
    queue, which Celery names `<nodename>.celery.pidbox`; nodes must be named `<service>@<host>`.
    """
    exchanges = [r"celeryev", r"celery\.pidbox", r"reply\.celery\.pidbox"]
    queues = [rf"{service}@.+\.celery\.pidbox"]
    return exchanges, queues


def _celery_worker_patterns(service: Service) -> tuple[list[str], list[str], list[str]]:
    """(configure, write, read) patterns for the objects a Celery worker of `service` uses.

    Celery declares its own event/control exchanges and its pidbox queue, binds the queue to
    `celery.pidbox` (write on the queue, read on the exchange), publishes task events to
    `celeryev` and replies to `reply.celery.pidbox`. It never broadcasts on `celery.pidbox` nor
    reads `celeryev` (no mingle, no gossip): with those, one service's login could shut down
    every other service's workers, or read their task arguments.
    """
    exchanges, queues = celery_internals(service)
    configure = exchanges + queues
    write = [r"celeryev", r"reply\.celery\.pidbox", *queues]
    read = [r"celery\.pidbox", *queues]
    return configure, write, read


def _publish_topics(service: Service) -> tuple[TopicPermission, ...]:
    """The routing keys `service` may publish on each event exchange it owns; it reads none."""
    return tuple(
        TopicPermission(exchange=exchange, write=keys, read="^$")
        for exchange, keys in EVENT_PUBLICATIONS.get(service, ())
    )


def service_permissions(service: Service) -> tuple[Permissions, tuple[TopicPermission, ...]]:
    """Least privilege, derived from the subscriptions and publications in `routing`."""
    write = [exchange for exchange, _ in EVENT_PUBLICATIONS.get(service, ())]
    read = [queue for queue, _, _ in EVENT_SUBSCRIPTIONS.get(service, ())]
    patterns: tuple[list[str], list[str], list[str]] = ([], [], [])
    if service in WORKER_SERVICES:
        write.append(task_queue(service))  # the direct exchange in front of the private queue
        read.append(task_queue(service))  # the private queue itself
        patterns = _celery_worker_patterns(service)
    configure_patterns, write_patterns, read_patterns = patterns
    permissions = Permissions(
        configure=_regex([], configure_patterns),
        write=_regex(write, write_patterns),
        read=_regex(read, read_patterns),
    )
    return permissions, _publish_topics(service)


def monitor_permissions() -> Permissions:
    """Read-only: sees every queue in the UI and can "Get messages" (requeued), but can neither
    declare, delete nor publish."""
    return Permissions(configure="^$", write="^$", read=".*")


def flower_permissions() -> Permissions:
    """Flower declares its own auto-delete event queue `celeryev.<uuid>` bound to `celeryev`;
    for "inspect" it broadcasts on `celery.pidbox` and reads replies from
    `<uuid>.reply.celery.pidbox`. It can touch no event exchange and no service queue."""
    queues = [r"celeryev\..+", r".+\.reply\.celery\.pidbox"]
    exchanges = [r"celeryev", r"celery\.pidbox", r"reply\.celery\.pidbox"]
    return Permissions(
        configure=_regex([], queues + exchanges),
        write=_regex([], [*queues, r"celery\.pidbox"]),
        read=_regex([], [*queues, r"celeryev", r"reply\.celery\.pidbox"]),
    )


def storefront_permissions() -> tuple[Permissions, tuple[TopicPermission, ...]]:
    """The orders API's live updates: declare a server-named queue (`configure`), bind it to the
    live exchange (`write` on the queue, `read` on the exchange) and consume it (`read`); its
    topic permission lets the binding keys be only `LIVE_ROUTING_KEYS`, never `#` or `order.*`.

    It writes to no exchange and reads no queue of the topology. RabbitMQ grants by name, not by
    queue properties: that the queue is exclusive (gone with the connection) is the API's doing
    (services/orders/live/bridge.py), not something these rights could demand.
    """
    permissions = Permissions(
        configure=_regex([], [SERVER_NAMED_QUEUE]),
        write=_regex([], [SERVER_NAMED_QUEUE]),
        read=_regex([LIVE_EXCHANGE], [SERVER_NAMED_QUEUE]),
    )
    topics = (
        TopicPermission(exchange=LIVE_EXCHANGE, write="^$", read=_regex(list(LIVE_ROUTING_KEYS))),
    )
    return permissions, topics


def replay_permissions() -> Permissions:
    """`python -m broker.replay`: consume the event logs (read), publish to the replay exchange,
    which reaches one event queue per routing key, and to the marker exchange, which reaches only
    the logs (write). It declares nothing, reads no event queue and publishes to no event
    exchange: a replay can put an event in front of one consumer again, never in front of every
    subscriber, and never take one away from a queue.
    """
    return Permissions(
        configure="^$",
        write=_regex([REPLAY_EXCHANGE, REPLAY_MARKER_EXCHANGE]),
        read=_regex([event_log(exchange) for exchange in EVENT_EXCHANGES]),
    )
