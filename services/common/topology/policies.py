"""The policies: what the broker does with dead letters, unroutable messages and, for quorum
queues, redeliveries and where a queue's leader lives.

Policies (not queue arguments) carry all of it, so it changes on a live vhost without
redeclaring a queue. A queue follows one policy, the matching one of highest priority, and
*only if its type knows every key in it*: classic queues skip a policy that has
`dead-letter-strategy` or `delivery-limit`, and lose its dead-letter keys with it (RabbitMQ
3.10, docs/scaling.md). So the quorum keys appear only when the vhost's queues are quorum queues.

Every consumed queue, `dead-letter.<queue>`:
- `dead-letter-exchange` / `dead-letter-routing-key`: its service's DLX, keyed by the queue's
  name, so its dead letters land in `<queue>.dlq` and never mix with another queue's;
- quorum only: `dead-letter-strategy: at-least-once`, which keeps a dead letter in the source
  queue until the DLQ has confirmed it (the default, at-most-once, may drop it on the way). It
  needs `overflow: reject-publish` (with the default drop-head the queue silently falls back to
  at-most-once); no length limit is set, so nothing is ever rejected for it;
- quorum only: `delivery-limit: DELIVERY_LIMIT`, the deliveries a message gets after its first
  before the broker dead-letters it with reason `delivery_limit` (docs/scaling.md says what
  counts as one on 3.10 and 4.x, and why 20).

Every sink (a DLQ, an unroutable queue) of a quorum vhost, `sink.<queue>`: no delivery limit
(`UNLIMITED_DELIVERIES`). RabbitMQ 4 gives every quorum queue a limit of 20 by default, and a
message past it in a queue with no dead-letter exchange is *dropped*: a dead letter looked at 21
times in the management UI ("Get messages" puts it back) would be gone.

Every quorum queue's policy also has `queue-leader-locator: balanced`: a new queue's leader goes
to the node leading the fewest, not to the node the declaring client happens to use.

Every event log (a stream), `event-log.<stream>`: its retention, `max-age` and
`max-length-bytes`, the only keys in it, both known to streams on 3.10 and 4.x. `apply-to` is
`queues`, which covers every queue type on both (`streams` exists only from 3.12 on). Each
policy's pattern is one name, so no dead-letter or quorum policy ever matches a stream, and no
stream policy a queue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.common.topology.model import (
    Exchange,
    LogRetention,
    Policy,
    Queue,
    QueueType,
    Stream,
)

DELIVERY_LIMIT = 20
# What RabbitMQ 4.0 and later give a quorum queue that no policy or argument limits.
RABBITMQ4_DEFAULT_DELIVERY_LIMIT = 20
# RabbitMQ 4's value for "no limit". RabbitMQ 3 refuses it in a policy and has no default limit,
# so the vhost tool leaves the key out there (broker/provision/policies.py).
UNLIMITED_DELIVERIES = -1

QUORUM_DEAD_LETTERING: dict[str, str | int] = {
    "dead-letter-strategy": "at-least-once",
    "overflow": "reject-publish",
    "delivery-limit": DELIVERY_LIMIT,
}
QUORUM_PLACEMENT: dict[str, str | int] = {"queue-leader-locator": "balanced"}


def queue_policies(queues: Iterable[Queue], queue_type: QueueType) -> tuple[Policy, ...]:
    """One policy per queue that needs one: every consumed queue, and on quorum every sink."""
    quorum = queue_type is QueueType.QUORUM
    policies = []
    for q in queues:
        if q.dead_letter_exchange:
            policies.append(_policy(f"dead-letter.{q.name}", q.name, _working(q, quorum)))
        elif quorum:
            sink = {"delivery-limit": UNLIMITED_DELIVERIES, **QUORUM_PLACEMENT}
            policies.append(_policy(f"sink.{q.name}", q.name, sink))
    return tuple(policies)


def exchange_policies(exchanges: Iterable[Exchange]) -> tuple[Policy, ...]:
    """Each event exchange sends what no queue takes to its alternate exchange."""
    return tuple(
        _policy(
            f"alternate-exchange.{ex.name}",
            ex.name,
            {"alternate-exchange": ex.alternate},
            apply_to="exchanges",
        )
        for ex in exchanges
        if ex.alternate
    )


def stream_policies(streams: Iterable[Stream], retention: LogRetention) -> tuple[Policy, ...]:
    """Each event log's retention; none when there is no limit at all (0 and 0)."""
    definition: dict[str, str | int] = {}
    if retention.max_age_days > 0:
        definition["max-age"] = max_age(retention.max_age_days)
    if retention.max_bytes > 0:
        definition["max-length-bytes"] = retention.max_bytes
    if not definition:
        return ()
    return tuple(_policy(f"event-log.{s.name}", s.name, definition) for s in streams)


def max_age(days: float) -> str:
    """RabbitMQ's spelling of an age (`30D`, `12h`, `90m`, `45s`): the largest unit that divides
    it, at least one second."""
    seconds = max(1, round(days * 86_400))
    for unit, size in (("D", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _working(q: Queue, quorum: bool) -> dict[str, str | int]:
    assert q.dead_letter_exchange is not None
    definition: dict[str, str | int] = {
        "dead-letter-exchange": q.dead_letter_exchange,
        "dead-letter-routing-key": q.name,
    }
    if quorum:
        definition |= QUORUM_DEAD_LETTERING | QUORUM_PLACEMENT
    return definition


def _policy(
    name: str, target: str, definition: dict[str, str | int], apply_to: str = "queues"
) -> Policy:
    # 3.10 knows only queues/exchanges/all for apply-to (not quorum_queues).
    return Policy(name, f"^{re.escape(target)}$", apply_to, definition)
