"""Queues: create the missing ones, of the topology's queue type. A queue that differs or is extra
may hold messages, so it is reported for a person to deal with, never deleted."""

from __future__ import annotations

from functools import partial
from typing import Any

from broker.provision.plan import Broker, Change
from services.common.topology import Queue, Topology


def plan_queues(broker: Broker, topology: Topology) -> list[Change]:
    have = {q["name"]: q for q in broker.list("queues")}
    changes = [
        change
        for q in topology.queues
        if (change := _queue_change(broker, topology, q, have.get(q.name))) is not None
    ]
    known = {q.name for q in topology.queues}
    for name, cur in have.items():
        if _is_stray(name, cur, known):
            changes.append(Change(f"unexpected queue {name}", "not in the definition", None))
    return changes


def _queue_change(
    broker: Broker, topology: Topology, q: Queue, cur: dict[str, Any] | None
) -> Change | None:
    queue_type = topology.queue_type.value
    if cur is None:
        body = {"durable": True, "auto_delete": False, "arguments": {"x-queue-type": queue_type}}
        return Change(
            f"create queue {q.name}",
            queue_type,
            partial(broker.api.put, broker.path("queues", broker.vhost, q.name), body),
        )
    cur_type = (cur.get("arguments") or {}).get("x-queue-type", cur.get("type"))
    if cur["durable"] and not cur["auto_delete"] and cur_type == queue_type:
        return None
    return Change(
        f"queue {q.name} differs",
        f"is durable={cur['durable']} type={cur_type}; a queue's type cannot "
        "change: drain and delete it, then apply again",
        None,
    )


def _is_stray(name: str, cur: dict[str, Any], known: set[str]) -> bool:
    """A durable queue that is not in the definition (clients' own temporary queues are not)."""
    return (
        name not in known and cur["durable"] and not cur["auto_delete"] and not cur.get("exclusive")
    )
