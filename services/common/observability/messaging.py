"""The trace context of an event, from the transaction that wrote it to the task that handles it.

Three hand-overs, each done here by hand because no maintained instrumentation does them right:

1. **Into the outbox row** (`capture`): the W3C context current when the row is written (the
   transaction's span) is stored with the row, in the same transaction.
2. **Onto the wire** (`PublishSpan`): the relay starts a PRODUCER span whose parent is that stored
   context, not its own loop, and puts the span's `traceparent` in the message's AMQP headers.
   (The pika instrumentation would overwrite a `traceparent` the caller set, and emits two
   PRODUCER spans per publish.)
3. **Off the wire** (`consumer_span`): the worker starts a CONSUMER span whose parent is the
   context in the headers, and runs the handler's first attempt inside it (its transaction is a
   child span); a retry published from there carries it on into the Celery task, through
   Celery's instrumentation.

Span names and attributes follow OpenTelemetry's messaging conventions for RabbitMQ: the
destination is the exchange, the routing key is the event type, the message id is the event id
and the conversation id is the correlation id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common.observability import tracing

SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
SUBSCRIPTION = "messaging.destination.subscription.name"
ROUTING_KEY = "messaging.rabbitmq.destination.routing_key"
DELIVERY_TAG = "messaging.rabbitmq.message.delivery_tag"
MESSAGE_ID = "messaging.message.id"
CONVERSATION_ID = "messaging.message.conversation_id"
BODY_SIZE = "messaging.message.body.size"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
# Not in the conventions (they have no redelivery flag for RabbitMQ, nor a handler), so in our
# own namespace.
REDELIVERED = "shopflow.message.redelivered"
HANDLER = "shopflow.handler"  # the task whose handler ran the event: `inventory.reserve_stock`

TRACER = "shopflow.messaging"


def capture() -> str | None:
    """The current trace context as the JSON the outbox stores; None outside a recorded trace."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":")) if carrier else None


def stored(text: str | None) -> dict[str, str]:
    """What `capture` stored, back as a carrier (`{}` for none, or for something unreadable)."""
    if not text:
        return {}
    try:
        carrier = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(carrier, dict):
        return {}
    return {str(k): str(v) for k, v in carrier.items()}


class PublishSpan:
    """The PRODUCER span of one outbox message, from its publish to its confirm."""

    def __init__(
        self,
        exchange: str,
        routing_key: str,
        message_id: str,
        correlation_id: str,
        parent: str | None,
    ) -> None:
        self.span = tracing.tracer(TRACER).start_span(
            f"publish {exchange}",
            context=propagate.extract(stored(parent)),
            kind=SpanKind.PRODUCER,
            attributes={
                SYSTEM: "rabbitmq",
                DESTINATION: exchange,
                ROUTING_KEY: routing_key,
                MESSAGE_ID: message_id,
                CONVERSATION_ID: correlation_id,
                OPERATION_TYPE: "send",
                OPERATION_NAME: "publish",
            },
        )

    def headers(self) -> dict[str, str]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        return carrier

    def end(self, error: str | None = None) -> None:
        if error is not None:
            self.span.set_status(Status(StatusCode.ERROR, error))
        self.span.end()


@contextmanager
def consumer_span(
    queue: str, properties: Mapping[str, Any], delivery_info: Mapping[str, Any], headers: Any
) -> Iterator[trace.Span]:
    """The CONSUMER span of one delivery, current while its first attempt runs."""
    exchange = str(delivery_info.get("exchange", ""))
    attributes: dict[str, Any] = {
        SYSTEM: "rabbitmq",
        DESTINATION: exchange,
        SUBSCRIPTION: queue,
        ROUTING_KEY: str(delivery_info.get("routing_key", "")),
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
        REDELIVERED: bool(delivery_info.get("redelivered", False)),
    }
    for key, value in (
        (MESSAGE_ID, properties.get("message_id")),
        (CONVERSATION_ID, properties.get("correlation_id")),
        (DELIVERY_TAG, delivery_info.get("delivery_tag")),
    ):
        if value is not None:
            attributes[key] = value
    parent = propagate.extract(headers if isinstance(headers, Mapping) else {})
    with tracing.tracer(TRACER).start_as_current_span(
        f"process {exchange}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def fail(span: trace.Span, reason: str, error_type: str) -> None:
    """Mark a span as failed with a reason (a dead-lettered message, a failed hand-off)."""
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, reason))
