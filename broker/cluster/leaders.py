"""Which node leads each quorum queue.

A quorum queue has one leader (it takes every publish and every delivery) and followers that
replicate it. Faults are about leaders: killing the node that leads the most queues is the
worst single failure, and after it each of those queues elects a new leader among its online
members. The management API reports the leader from the queue's record, which the new leader
updates as soon as it is elected (within a second of a kill -9 on this machine).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from broker.management import ManagementClient

_COLUMNS = "vhost,name,type,leader,members,online"


@dataclass(frozen=True)
class QueueLeader:
    vhost: str
    queue: str
    leader: str | None  # None while an election is running or no majority is online
    members: tuple[str, ...]
    online: tuple[str, ...]


def quorum_leaders(api: ManagementClient, vhost: str | None = None) -> list[QueueLeader]:
    """The quorum queues of `vhost` (of every vhost when None), sorted by vhost and name."""
    path = api.path("queues", vhost) if vhost is not None else "/queues"
    rows = api.get(f"{path}?columns={_COLUMNS}") or []
    leaders = [
        QueueLeader(
            vhost=row["vhost"],
            queue=row["name"],
            leader=row.get("leader") or None,
            members=tuple(row.get("members") or ()),
            online=tuple(row.get("online") or ()),
        )
        for row in rows
        if row.get("type") == "quorum"
    ]
    return sorted(leaders, key=lambda q: (q.vhost, q.queue))


def queues_led(leaders: list[QueueLeader]) -> Counter[str]:
    """How many queues each node leads (nodes that lead none are absent)."""
    return Counter(q.leader for q in leaders if q.leader is not None)
