"""Queues: create the missing ones, of the topology's queue type. A queue that differs or is extra
may hold messages, so it is reported for a person to deal with, never deleted.

A queue whose priority lanes (`x-max-priority`, docs/priorities.md) differ is reported too, with
`migrate` as the way out: that argument is fixed when a queue is declared.

A queue of the other type blocks `apply` altogether: the definition's policies are written for
one type, and a queue of the other type would skip them (and with them its dead-lettering). Its
type cannot change in place; `python -m broker.provision migrate` moves it, messages included.

The event logs are streams whatever BROKER_QUEUE_TYPE says, and `migrate` never touches them. A
log that exists as another type is reported for a person (it cannot become a stream in place);
it does not block `apply`, because its policy has only retention keys, which leave the queues'
dead-lettering alone.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from broker.provision.plan import Broker, Change
from services.common.topology import MAX_PRIORITY_ARGUMENT, Queue, Stream, Topology

MIGRATE = "python -m broker.provision migrate"
HOLDING_SUFFIX = ".migrating"  # where `migrate` keeps a queue's messages while it recreates it


def plan_queues(broker: Broker, topology: Topology) -> list[Change]:
    have = {q["name"]: q for q in broker.list("queues")}
    changes = [
        change
        for q in topology.queues
        if (change := _queue_change(broker, topology, q, have.get(q.name))) is not None
    ]
    changes += [
        change
        for stream in topology.streams
        if (change := _stream_change(broker, stream, have.get(stream.name))) is not None
    ]
    known = {q.name for q in topology.queues} | {s.name for s in topology.streams}
    for name, cur in have.items():
        if _is_stray(name, cur, known):
            changes.append(Change(f"unexpected queue {name}", _stray_detail(name, known), None))
    return changes


def queue_type(cur: dict[str, Any]) -> str:
    """A queue's type as the management API reports it: classic, quorum or stream."""
    return str(cur.get("type") or (cur.get("arguments") or {}).get("x-queue-type") or "classic")


def _queue_change(
    broker: Broker, topology: Topology, q: Queue, cur: dict[str, Any] | None
) -> Change | None:
    wanted = topology.queue_type.value
    if cur is None:
        body = {"durable": True, "auto_delete": False, "arguments": topology.arguments_of(q.name)}
        return Change(
            f"create queue {q.name}",
            wanted,
            partial(broker.api.put, broker.path("queues", broker.vhost, q.name), body),
        )
    if queue_type(cur) != wanted:
        return Change(
            f"queue {q.name} is {queue_type(cur)}, BROKER_QUEUE_TYPE says {wanted}",
            f"a queue's type cannot change in place: `{MIGRATE}` moves it and its messages",
            None,
            blocking=True,
        )
    if lanes_differ(topology, q.name, cur):
        return Change(
            f"queue {q.name} has {_lanes(max_priority(cur))}, the topology wants "
            f"{_lanes(topology.arguments_of(q.name).get(MAX_PRIORITY_ARGUMENT))}",
            f"`{MAX_PRIORITY_ARGUMENT}` is a queue argument, fixed when the queue was declared "
            f"(declaring it again with another value is refused, 406 PRECONDITION_FAILED): "
            f"`{MIGRATE}` rebuilds it and keeps its messages (docs/priorities.md)",
            None,
        )
    if cur["durable"] and not cur["auto_delete"]:
        return None
    return Change(
        f"queue {q.name} differs",
        f"is durable={cur['durable']} auto_delete={cur['auto_delete']}: drain and delete it, "
        "then apply again",
        None,
    )


def max_priority(cur: dict[str, Any]) -> int | None:
    """A queue's `x-max-priority` as the management API reports it (None: no priorities)."""
    value = (cur.get("arguments") or {}).get(MAX_PRIORITY_ARGUMENT)
    return None if value is None else int(value)


def lanes_differ(topology: Topology, name: str, cur: dict[str, Any]) -> bool:
    """Whether queue `name`, as found, has other priority lanes than the topology gives it."""
    return max_priority(cur) != topology.arguments_of(name).get(MAX_PRIORITY_ARGUMENT)


def _lanes(value: object) -> str:
    return "no priorities" if value is None else f"{MAX_PRIORITY_ARGUMENT} {value}"


def _stream_change(broker: Broker, stream: Stream, cur: dict[str, Any] | None) -> Change | None:
    if cur is None:
        body = {"durable": True, "auto_delete": False, "arguments": Stream.ARGUMENTS}
        return Change(
            f"create stream {stream.name}",
            f"the event log of {stream.exchange}",
            partial(broker.api.put, broker.path("queues", broker.vhost, stream.name), body),
        )
    if queue_type(cur) == "stream":
        return None
    return Change(
        f"event log {stream.name} is a {queue_type(cur)} queue, not a stream",
        "move what it holds elsewhere, delete it by hand, then apply again",
        None,
    )


def _is_stray(name: str, cur: dict[str, Any], known: set[str]) -> bool:
    """A durable queue that is not in the definition (clients' own temporary queues are not)."""
    return (
        name not in known and cur["durable"] and not cur["auto_delete"] and not cur.get("exclusive")
    )


def _stray_detail(name: str, known: set[str]) -> str:
    if name.endswith(HOLDING_SUFFIX) and name.removesuffix(HOLDING_SUFFIX) in known:
        return f"left by an unfinished `{MIGRATE}`: run it again to finish"
    return "not in the definition"
