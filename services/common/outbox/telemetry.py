"""What one relay pass tells an operator: a PRODUCER span per message, the publish-to-confirm
latency, and the published and failed counts (docs/observability.md).

The publisher asks for each message's trace headers just before its publish and hands the pass's
result over at the end. With tracing on, the span of each message continues the trace stored with
its outbox row and ends at its confirm (or failure); its context goes out in the headers. With
tracing off in the relay, a stored context is passed on as it is, so the consumer still continues
the writer's trace.
"""

from __future__ import annotations

import functools
import time

from prometheus_client import Counter, Histogram

from services.common.observability import tracing
from services.common.observability.messaging import PublishSpan, stored
from services.common.observability.metrics import (
    RELAY_CONFIRM_LATENCY,
    RELAY_FAILURES,
    RELAY_PUBLISHED,
    RETENTION_PRUNED,
)
from services.common.outbox.publisher import BatchResult, BrokerUnavailable
from services.common.outbox.store import OutboundMessage


def start_counting(exchange: str, outbox: str) -> None:
    """Every failure, latency and pruning series of a relay at 0 from its start (the published
    series appear per event type with the first publish)."""
    for kind in ("rejected", "unavailable"):
        RELAY_FAILURES.labels(exchange, kind)
    RELAY_CONFIRM_LATENCY.labels(exchange)
    RETENTION_PRUNED.labels(outbox)


# Each series looked up once: `labels()` costs more than the increment it leads to.
@functools.cache
def _published(exchange: str, event_type: str) -> Counter:
    return RELAY_PUBLISHED.labels(exchange, event_type)


@functools.cache
def _latency(exchange: str) -> Histogram:
    return RELAY_CONFIRM_LATENCY.labels(exchange)


class PassTelemetry:
    def __init__(self, exchange: str) -> None:
        self.exchange = exchange
        self._messages: dict[int, OutboundMessage] = {}
        self._spans: dict[int, PublishSpan] = {}
        self._first_publish: float | None = None

    def headers(self, message: OutboundMessage) -> dict[str, str]:
        """The trace headers of `message`, which is about to be published."""
        if self._first_publish is None:
            self._first_publish = time.perf_counter()
        self._messages[message.row_id] = message
        if not tracing.enabled():
            return stored(message.trace_context)
        span = PublishSpan(
            self.exchange,
            message.event_type,
            message.event_id,
            message.correlation_id,
            message.trace_context,
        )
        self._spans[message.row_id] = span
        return span.headers()

    def finish(self, result: BatchResult) -> None:
        confirmed = set(result.confirmed)
        if confirmed and result.failure is None and self._first_publish is not None:
            elapsed = time.perf_counter() - self._first_publish
            _latency(self.exchange).observe(elapsed)
        for row_id in result.confirmed:
            _published(self.exchange, self._messages[row_id].event_type).inc()
        failure = result.failure
        if failure is not None:
            kind = "unavailable" if isinstance(failure.error, BrokerUnavailable) else "rejected"
            RELAY_FAILURES.labels(self.exchange, kind).inc()
        for row_id, span in self._spans.items():
            if row_id in confirmed:
                span.end()
            elif failure is not None and failure.message.row_id == row_id:
                span.end(str(failure.error))
            else:
                span.end("not confirmed in this pass; published again with the next")
