"""`build()`: the whole topology of one vhost, assembled from the naming rules, the routing tables
and the permissions. Each kind of object comes from one small function; together they fix the
order of every tuple in `Topology` (and so of `show`, the generated docs and the vhost tool's plan).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.registry import Service
from services.common.topology.model import (
    Binding,
    Exchange,
    LogRetention,
    Queue,
    QueueType,
    Stream,
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
    flower_permissions,
    monitor_permissions,
    replay_permissions,
    service_permissions,
    storefront_permissions,
)
from services.common.topology.policies import (
    exchange_policies,
    queue_policies,
    stream_policies,
)
from services.common.topology.routing import (
    EVENT_EXCHANGES,
    EVENT_PUBLICATIONS,
    EVENT_SUBSCRIPTIONS,
    REPLAY_EXCHANGE,
    REPLAY_MARKER_EXCHANGE,
    WORKER_SERVICES,
)

DEFAULT_LOG_RETENTION = LogRetention()


@dataclass(frozen=True)
class _Objects:
    """Exchanges, queues and bindings that belong together; `+` keeps each kind in order."""

    exchanges: tuple[Exchange, ...] = ()
    queues: tuple[Queue, ...] = ()
    bindings: tuple[Binding, ...] = ()

    def __add__(self, other: _Objects) -> _Objects:
        return _Objects(
            self.exchanges + other.exchanges,
            self.queues + other.queues,
            self.bindings + other.bindings,
        )


def build(
    vhost: str = DEFAULT_VHOST,
    queue_type: QueueType = QueueType.CLASSIC,
    log_retention: LogRetention = DEFAULT_LOG_RETENTION,
) -> Topology:
    """The whole topology of `vhost`, every queue of type `queue_type` (which also decides
    what the queues' policies say: `policies.py`), the event logs kept for `log_retention`.

    The queue type and the retention are settings like any other (`BROKER_QUEUE_TYPE`,
    `EVENT_LOG_MAX_AGE_DAYS`..., from the environment or `.env`): whoever declares or checks
    them passes them, since this package reads no environment. The defaults only suit code that
    needs just the names.
    """
    objects = _event_exchanges() + _event_queues() + _task_queues()
    objects += _dead_letters(objects.queues)
    streams = _event_logs()
    objects += _replay_routes(streams)
    return Topology(
        vhost=vhost,
        queue_type=queue_type,
        exchanges=objects.exchanges,
        queues=objects.queues,
        bindings=objects.bindings,
        policies=queue_policies(objects.queues, queue_type)
        + exchange_policies(objects.exchanges)
        + stream_policies(streams, log_retention),
        users=_service_users(vhost) + _role_users(vhost),
        streams=streams,
    )


def _event_exchanges() -> _Objects:
    """Each event exchange is a topic exchange whose unroutable messages wait in a queue."""
    objects = _Objects()
    for service, publications in EVENT_PUBLICATIONS.items():
        for exchange, _ in publications:
            sink = unroutable(exchange)
            objects += _Objects(
                exchanges=(
                    Exchange(exchange, "topic", owner=service, alternate=sink),
                    Exchange(sink, "fanout"),
                ),
                queues=(Queue(sink, owner=None),),
                bindings=(Binding(sink, sink, ""),),
            )
    return objects


def _event_queues() -> _Objects:
    """Each service's event queues, bound to the exchanges it subscribes to, with priority
    lanes (priorities.py)."""
    objects = _Objects()
    for service, subscriptions in EVENT_SUBSCRIPTIONS.items():
        dlx = dead_letter_exchange(service)
        for queue, exchange, keys in subscriptions:
            objects += _Objects(
                queues=(Queue(queue, owner=service, dead_letter_exchange=dlx, prioritized=True),),
                bindings=tuple(Binding(exchange, queue, key) for key in keys),
            )
    return objects


def _task_queues() -> _Objects:
    """Each worker's private task queue, behind a direct exchange of the same name."""
    objects = _Objects()
    for service in WORKER_SERVICES:
        name, dlx = task_queue(service), dead_letter_exchange(service)
        objects += _Objects(
            exchanges=(Exchange(name, "direct", owner=service),),
            queues=(Queue(name, owner=service, dead_letter_exchange=dlx),),
            bindings=(Binding(name, name, name),),
        )
    return objects


def _dead_letters(queues: tuple[Queue, ...]) -> _Objects:
    """One DLX per service, one DLQ per queue, bound with the queue's own name as the key."""
    dead_lettered = [(q, dlx) for q in queues if (dlx := q.dead_letter_exchange)]
    dlxs = sorted({dlx for _, dlx in dead_lettered})
    return _Objects(
        exchanges=tuple(Exchange(dlx, "direct") for dlx in dlxs),
        queues=tuple(Queue(q.dead_letter_queue, owner=None) for q, _ in dead_lettered),
        bindings=tuple(Binding(dlx, q.dead_letter_queue, q.name) for q, dlx in dead_lettered),
    )


def _event_logs() -> tuple[Stream, ...]:
    """One event log per event exchange."""
    return tuple(Stream(event_log(exchange), exchange) for exchange in EVENT_EXCHANGES)


def _replay_routes(streams: tuple[Stream, ...]) -> _Objects:
    """What the event logs and their replays need besides the streams themselves.

    Each log is bound to its exchange with every event type of that exchange, one binding per
    type, rather than with `#`: a routing key that is no event type must still reach no queue,
    so that the alternate exchange keeps it in `<exchange>.unroutable`. Each log is also bound to
    the marker exchange with its own name, and each event queue to the replay exchange with its
    own name: a replay reaches that queue and no other (docs/event-log.md).
    """
    event_queues = [queue for subs in EVENT_SUBSCRIPTIONS.values() for queue, _, _ in subs]
    logged = tuple(
        Binding(s.exchange, s.name, key) for s in streams for key in EVENT_EXCHANGES[s.exchange]
    )
    marked = tuple(Binding(REPLAY_MARKER_EXCHANGE, s.name, s.name) for s in streams)
    replayed = tuple(Binding(REPLAY_EXCHANGE, queue, queue) for queue in event_queues)
    return _Objects(
        exchanges=(Exchange(REPLAY_EXCHANGE, "direct"), Exchange(REPLAY_MARKER_EXCHANGE, "direct")),
        bindings=logged + marked + replayed,
    )


def _service_users(vhost: str) -> tuple[UserSpec, ...]:
    users = []
    for service in Service:
        permissions, topics = service_permissions(service)
        users.append(UserSpec(user_name(vhost, service), (), permissions, topics, service=service))
    return tuple(users)


def _role_users(vhost: str) -> tuple[UserSpec, ...]:
    """The logins that are not a service (`UserSpec.role`): people in the UI, Flower, the
    orders API's live updates, and the event log's replays."""
    monitor = UserSpec(
        user_name(vhost, MONITOR), ("monitoring",), monitor_permissions(), role=MONITOR
    )
    flower = UserSpec(user_name(vhost, FLOWER), (), flower_permissions(), role=FLOWER)
    live, live_topics = storefront_permissions()
    storefront = UserSpec(user_name(vhost, STOREFRONT), (), live, live_topics, role=STOREFRONT)
    replay = UserSpec(user_name(vhost, REPLAY), (), replay_permissions(), role=REPLAY)
    return monitor, flower, storefront, replay
