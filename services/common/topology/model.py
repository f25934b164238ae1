"""What a topology is made of: exchanges, queues, bindings, policies and users, as plain values.

`builder.build()` fills them in; the vhost tool, the docs generator and the tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from services.common.registry import Service
from services.common.topology.names import user_name
from services.common.topology.priorities import CLASSIC_MAX_PRIORITY, MAX_PRIORITY_ARGUMENT


class QueueType(StrEnum):
    CLASSIC = "classic"
    QUORUM = "quorum"

    @property
    def arguments(self) -> dict[str, str]:
        """What a queue of this type is declared with (and what tells Celery the type)."""
        return {"x-queue-type": self.value}


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
    prioritized: bool = False  # has priority lanes (an event queue: priorities.py)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True)
class Stream:
    """An event log: a stream (`x-queue-type: stream`, whatever BROKER_QUEUE_TYPE says) bound to
    one event exchange, which the broker fills and only the replay tool reads."""

    name: str
    exchange: str  # the event exchange whose events it keeps

    ARGUMENTS: ClassVar[dict[str, str]] = {"x-queue-type": "stream"}


@dataclass(frozen=True)
class LogRetention:
    """How long the event logs keep events: until they are older than `max_age_days` or a log
    holds more than `max_bytes`, whichever comes first (0: no such limit). The vhost tool passes
    the settings' values (EVENT_LOG_MAX_AGE_DAYS, EVENT_LOG_MAX_BYTES); these are their defaults."""

    max_age_days: float = 30.0
    max_bytes: int = 5_000_000_000


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


@dataclass(frozen=True)
class Topology:
    vhost: str
    queue_type: QueueType
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    policies: tuple[Policy, ...]
    users: tuple[UserSpec, ...] = field(default=())
    streams: tuple[Stream, ...] = field(default=())  # the event logs: not among `queues`

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    @property
    def queue_arguments(self) -> dict[str, str]:
        """What every queue is declared with. The rest (dead-lettering, limits, leader
        placement) is in policies, which can change without redeclaring the queue."""
        return self.queue_type.arguments

    def arguments_of(self, queue: str) -> dict[str, str | int]:
        """What `queue` is declared with: `queue_arguments`, and on a classic vhost the priority
        lanes of an event queue (`x-max-priority`, a queue argument no policy can set; quorum
        queues have their lanes without one: priorities.py)."""
        arguments: dict[str, str | int] = dict(self.queue_arguments)
        if self.queue_type is QueueType.CLASSIC and self.queue(queue).prioritized:
            arguments[MAX_PRIORITY_ARGUMENT] = CLASSIC_MAX_PRIORITY
        return arguments

    def stream_of(self, exchange: str) -> Stream:
        """The event log of an event exchange."""
        return next(s for s in self.streams if s.exchange == exchange)

    def bindings_of(self, queue: str) -> tuple[Binding, ...]:
        return tuple(b for b in self.bindings if b.queue == queue)

    def user(self, service: Service | str) -> UserSpec:
        wanted = user_name(self.vhost, service)
        return next(u for u in self.users if u.name == wanted)

    @property
    def dead_letter_queues(self) -> tuple[str, ...]:
        return tuple(q.dead_letter_queue for q in self.queues if q.dead_letter_exchange)
