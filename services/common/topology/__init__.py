"""The broker topology, defined once.

Everything that exists in the vhost is described here: exchanges, queues, bindings, the
dead-letter policies and each service's permissions. The vhost tool (`python -m broker.provision`)
applies it; services and tests import the names from here (`from services.common.topology
import ...`, never from a module of this package) and never declare shared objects.

One concept per module:
- `names`: the naming rules (logins, task queues, dead-letter exchanges, unroutable sinks);
- `routing`: the event exchanges, routing keys and event queues, who publishes and who subscribes;
- `flow`: what one order sets moving, every event of its life, derived from `routing`;
- `permissions`: each login's rights, derived from the routing tables;
- `policies`: dead-lettering and alternate exchanges, and what quorum queues add to them;
- `priorities`: the priority lanes of the event queues (express orders first);
- `model`: the dataclasses a topology is made of;
- `builder`: `build(vhost, queue_type, log_retention)`, the whole topology of one vhost.

The event logs (one stream per event exchange, docs/event-log.md) are `Topology.streams`, not
`Topology.queues`: the queues are of BROKER_QUEUE_TYPE, consumed or drained by people, purged
and migrated; a stream is none of those.
"""

from __future__ import annotations

from services.common.registry import Service
from services.common.topology.builder import build
from services.common.topology.flow import consumers, order_events, publishers
from services.common.topology.model import (
    Binding,
    Exchange,
    LogRetention,
    Permissions,
    Policy,
    Queue,
    QueueType,
    Stream,
    TopicPermission,
    Topology,
    UserSpec,
)
from services.common.topology.names import (
    DEFAULT_VHOST,
    FLOWER,
    MONITOR,
    REPLAY,
    STOREFRONT,
    dead_letter_exchange,
    event_log,
    task_queue,
    unroutable,
    user_name,
)
from services.common.topology.permissions import (
    SERVER_NAMED_QUEUE,
    celery_internals,
    replay_permissions,
    service_permissions,
    storefront_permissions,
)
from services.common.topology.policies import (
    DELIVERY_LIMIT,
    RABBITMQ4_DEFAULT_DELIVERY_LIMIT,
    UNLIMITED_DELIVERIES,
    max_age,
)
from services.common.topology.priorities import (
    CLASSIC_MAX_PRIORITY,
    EXPRESS_PRIORITY,
    MAX_PRIORITY_ARGUMENT,
    QUORUM_NORMAL_MAX,
    STANDARD_PRIORITY,
    order_priority,
)
from services.common.topology.routing import *  # noqa: F403  (every name in its __all__)
from services.common.topology.routing import __all__ as _routing_names

__all__ = [
    *_routing_names,
    "CLASSIC_MAX_PRIORITY",
    "DEFAULT_VHOST",
    "DELIVERY_LIMIT",
    "EXPRESS_PRIORITY",
    "RABBITMQ4_DEFAULT_DELIVERY_LIMIT",
    "FLOWER",
    "MAX_PRIORITY_ARGUMENT",
    "MONITOR",
    "QUORUM_NORMAL_MAX",
    "REPLAY",
    "SERVER_NAMED_QUEUE",
    "STANDARD_PRIORITY",
    "STOREFRONT",
    "UNLIMITED_DELIVERIES",
    "Binding",
    "Exchange",
    "LogRetention",
    "Permissions",
    "Policy",
    "Queue",
    "QueueType",
    "Service",
    "Stream",
    "TopicPermission",
    "Topology",
    "UserSpec",
    "build",
    "celery_internals",
    "consumers",
    "dead_letter_exchange",
    "event_log",
    "max_age",
    "order_priority",
    "order_events",
    "publishers",
    "replay_permissions",
    "service_permissions",
    "storefront_permissions",
    "task_queue",
    "unroutable",
    "user_name",
]
