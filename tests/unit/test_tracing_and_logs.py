"""Tracing's switch, the outbox's stored context, the relay's pass-through, the consumer span's
redelivery flag, and JSON log lines naming the event, in one process with an in-memory exporter.
(Across processes: tests/e2e/test_one_trace_per_order.py.)"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.common.observability import tracing
from services.common.observability.logs import EventContext, about_event, json_formatter
from services.common.observability.messaging import capture, consumer_span, stored
from services.common.outbox.publisher import BatchFailure, BatchResult, PublishRejected
from services.common.outbox.store import OutboundMessage
from services.common.outbox.telemetry import PassTelemetry


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this test, recording in memory. The process's global provider is left
    alone: it can be set only once, and the tests that follow must run with tracing off."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    monkeypatch.setitem(tracing._state, "provider", provider)
    monkeypatch.setitem(tracing._state, "children_only", provider)
    yield exported
    provider.shutdown()


@pytest.mark.parametrize(
    ("env", "exporters"),
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_tracing_is_off_unless_the_standard_variables_ask(
    env: dict[str, str], exporters: list[str]
) -> None:
    assert tracing.requested_exporters(env) == exporters


def test_an_unknown_exporter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        tracing.requested_exporters({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_the_outbox_stores_the_current_context_and_nothing_outside_a_trace(
    spans: InMemorySpanExporter,
) -> None:
    assert capture() is None
    with tracing.tracer("test").start_as_current_span("transaction") as span:
        stored_text = capture()
    assert stored_text is not None
    context = span.get_span_context()
    assert stored(stored_text)["traceparent"].startswith(
        f"00-{context.trace_id:032x}-{context.span_id:016x}-"
    )
    assert stored("not json") == {}


def _message(row_id: int, trace_context: str | None) -> OutboundMessage:
    return OutboundMessage(row_id, f"e{row_id}", "order.placed", "c-1", b"{}", trace_context)


def test_a_relay_without_tracing_passes_the_stored_context_on() -> None:
    assert not tracing.enabled()
    parent = '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}'
    telemetry = PassTelemetry("orders")
    assert telemetry.headers(_message(1, parent)) == json.loads(parent)
    assert telemetry.headers(_message(2, None)) == {}
    telemetry.finish(BatchResult(confirmed=(1, 2)))


def test_each_publish_is_a_producer_span_under_the_stored_context(
    spans: InMemorySpanExporter,
) -> None:
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    parent = json.dumps({"traceparent": f"00-{trace_id}-{parent_id}-01"})
    telemetry = PassTelemetry("orders")
    headers = [telemetry.headers(_message(n, parent)) for n in (1, 2)]
    failure = BatchFailure(_message(2, parent), PublishRejected("nacked by the broker"))
    telemetry.finish(BatchResult(confirmed=(1,), failure=failure))

    first, second = sorted(
        spans.get_finished_spans(),
        key=lambda s: str(dict(s.attributes or {})["messaging.message.id"]),
    )
    for span, sent in ((first, headers[0]), (second, headers[1])):
        assert span.kind is SpanKind.PRODUCER
        assert span.parent is not None
        assert (f"{span.parent.trace_id:032x}", f"{span.parent.span_id:016x}") == (
            trace_id,
            parent_id,
        )
        assert sent["traceparent"].startswith(f"00-{trace_id}-{span.context.span_id:016x}-")
        assert span.attributes["messaging.destination.name"] == "orders"  # type: ignore[index]
    assert first.status.is_ok
    assert not second.status.is_ok
    assert second.status.description == "nacked by the broker"


def test_a_redelivered_message_s_span_says_so(spans: InMemorySpanExporter) -> None:
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    info = {"exchange": "orders", "routing_key": "order.placed", "redelivered": True}
    with consumer_span("inventory.orders", {"message_id": "e1"}, info, headers):
        pass
    [span] = spans.get_finished_spans()
    assert span.kind is SpanKind.CONSUMER
    assert span.name == "process orders"
    assert span.attributes["shopflow.message.redelivered"] is True  # type: ignore[index]
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "b7ad6b7169203331"


def test_json_log_lines_name_the_event_and_its_trace(spans: InMemorySpanExporter) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(json_formatter("inventory", "inventory-worker"))
    handler.addFilter(EventContext())
    log = logging.getLogger("test.json-lines")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log.info("before")
        with (
            tracing.tracer("test").start_as_current_span("task") as span,
            about_event("e1", "order.placed", "c-1"),
        ):
            log.info("during")
    finally:
        log.removeHandler(handler)
    before, during = (json.loads(line) for line in out.getvalue().splitlines())
    assert before["service"] == "inventory"
    assert before["process"] == "inventory-worker"
    assert "event_id" not in before
    assert "trace_id" not in before
    assert (during["event_id"], during["event_type"], during["correlation_id"]) == (
        "e1",
        "order.placed",
        "c-1",
    )
    assert during["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert during["message"] == "during"
