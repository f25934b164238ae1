"""Priority lanes: express orders' events are served before standard ones (docs/priorities.md).

Two lanes, on both queue types:
- quorum queues (RabbitMQ 4.0+) have two priorities natively, with no queue argument: a message
  whose priority is above 4 is *high*, any other (or none) *normal*, and high is served twice as
  often as normal while both wait. RabbitMQ 3.10's quorum queues have no priorities at all: there
  the lanes are ignored and every event waits in arrival order;
- classic queues get them from the `x-max-priority` queue argument (a queue argument, which no
  policy can set, so it is fixed when the queue is declared: `migrate` rebuilds an older queue).
  Each level costs the queue a sub-queue of its own, so there are two, 0 and 1; a message whose
  priority is above the maximum is served as the maximum, so EXPRESS_PRIORITY counts as 1 there.

EXPRESS_PRIORITY is above 4 so that it is high on a quorum queue too; STANDARD_PRIORITY is the
normal lane on both. Only the event queues have lanes: task queues, dead-letter queues and sinks
are served in arrival order.
"""

from __future__ import annotations

STANDARD_PRIORITY = 0
EXPRESS_PRIORITY = 5
# Quorum queues (RabbitMQ 4.0+): a priority above this is the high lane.
QUORUM_NORMAL_MAX = 4
CLASSIC_MAX_PRIORITY = 1
MAX_PRIORITY_ARGUMENT = "x-max-priority"


def order_priority(express: bool) -> int:
    """The AMQP priority of an order's events."""
    return EXPRESS_PRIORITY if express else STANDARD_PRIORITY
