"""The priority an event inherits from the event being handled (docs/priorities.md).

An express order's `order.placed` carries a high AMQP priority; what a service publishes while it
handles that event (inventory's `stock.reserved`, orders' `order.confirmed`, shipping's
`shipment.dispatched`...) is about the same order and should keep that lane. The worker runs each
handler inside `inherited(priority of the delivery)`, and `add_event` stores that priority on
the outbox row unless the caller gives one. A context variable, like the trace context
`add_event` captures: every handler keeps its plain signature, and a handler running outside a
worker (a test, a command) publishes with no priority.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_INHERITED: ContextVar[int | None] = ContextVar("shopflow_event_priority", default=None)


@contextmanager
def inherited(priority: int | None) -> Iterator[None]:
    """Events added to an outbox inside this block get `priority` (None: no priority)."""
    token = _INHERITED.set(priority)
    try:
        yield
    finally:
        _INHERITED.reset(token)


def current() -> int | None:
    """The priority of the event being handled in this context, if any."""
    return _INHERITED.get()
