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
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.common.topology.model import Exchange, Policy, Queue, QueueType

DELIVERY_LIMIT = 20
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
