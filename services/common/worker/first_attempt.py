"""A first attempt, as the pool runs it: parse the raw event, then run its task's handler.

`run_first_attempt` is what the ingress gives the worker's pool. It takes only plain values (the
body's bytes, the routes, what tracing needs of the delivery), so a prefork pool can send it to a
child process as well as a threads pool can run it; it finds the task through the worker's
Celery app (`current_app`: Celery makes it the worker's app in the main process and in every
pool child), and answers what the event loop should do with the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from celery import current_app

from services.common.events import InvalidEvent, parse_event
from services.common.observability import tracing
from services.common.observability.logs import about_event
from services.common.observability.messaging import HANDLER, consumer_span, fail
from services.common.outbox.priority import inherited
from services.common.worker.observed import IngressMetrics
from services.common.worker.tasks import EventTask, Settle

logger = logging.getLogger("shopflow.ingress")


@dataclass(frozen=True)
class Delivery:
    """What a first attempt needs to know of the message besides its body."""

    queue: str
    message_id: str | None
    # The AMQP priority it came with: what the handler publishes inherits it (outbox/priority.py).
    priority: int | None = None
    # For the CONSUMER span (only filled in when this process traces).
    properties: Mapping[str, Any] = field(default_factory=dict)
    delivery_info: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, Any] = field(default_factory=dict)


def run_first_attempt(routes: Mapping[str, str], body: bytes, delivery: Delivery) -> Settle:
    """Never raises: anything unexpected in a handler is a dead letter (logged), and anything
    unexpected here leaves the event to come back."""
    if not tracing.enabled():
        return _attempt(routes, body, delivery, None)
    with consumer_span(
        delivery.queue, delivery.properties, delivery.delivery_info, delivery.headers
    ) as span:
        return _attempt(routes, body, delivery, span)


def _attempt(routes: Mapping[str, str], body: bytes, delivery: Delivery, span: Any) -> Settle:
    metrics = _metrics(delivery.queue, routes)
    try:
        event = parse_event(body, accept=routes.keys())
    except InvalidEvent as exc:
        metrics.consumed_invalid.inc()
        metrics.dead_lettered_invalid.inc()
        if span is not None:
            fail(span, exc.reason, "invalid_event")
        logger.warning(
            "rejected message %s from %s (dead-lettered): %s",
            delivery.message_id or "(no message_id)",
            delivery.queue,
            exc.reason,
        )
        return Settle.DEAD_LETTER
    metrics.consumed[event.type].inc()
    task = cast(EventTask, current_app.tasks[routes[event.type]])
    if span is not None:
        span.set_attribute(HANDLER, task.name)
    with about_event(event.id, event.type, event.correlationid), inherited(delivery.priority):
        settle = task.first_attempt(event, delivery.queue, delivery.priority)
    if span is not None and settle is Settle.DEAD_LETTER:
        fail(span, "the handler failed for good", "dead_lettered")
    return settle


_METRICS: dict[str, IngressMetrics] = {}


def _metrics(queue: str, routes: Mapping[str, str]) -> IngressMetrics:
    """Bound once per queue in each process (a prefork child binds its own)."""
    metrics = _METRICS.get(queue)
    if metrics is None:
        metrics = _METRICS[queue] = IngressMetrics(queue, routes)
    return metrics
