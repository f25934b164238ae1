"""Tracing, off unless the standard `OTEL_*` variables ask for it.

Off (the default), nothing is installed: the OpenTelemetry API's global tracer is its no-op one,
no instrumentation is patched in, and the hot paths (the relay's publish, the ingress, every
transaction) skip even that behind `enabled()`.

On when `OTEL_TRACES_EXPORTER` names an exporter, or when an OTLP endpoint is set
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, which means `otlp`), and
`OTEL_SDK_DISABLED` is not `true`. Exporters:

- `otlp`: OTLP over HTTP/protobuf (port 4318), configured by the standard `OTEL_EXPORTER_OTLP_*`
  variables; docker compose sends it to Jaeger;
- `console`: one JSON object per span on stdout, so into the process's log (`make up`).

Every other standard variable keeps its meaning (`OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
`OTEL_RESOURCE_ATTRIBUTES`...). `service.name` is the process's Procfile name (`orders-api`,
`inventory-worker`...), so the trace viewer shows each hop under its own name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

log = logging.getLogger("shopflow.tracing")

EXPORTERS = ("otlp", "console")
_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_state: dict[str, TracerProvider | None] = {"provider": None, "children_only": None}


def requested_exporters(env: Mapping[str, str] = os.environ) -> list[str]:
    """The exporters the environment asks for; empty means tracing stays off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n and n != "none"]
    if not names and "OTEL_TRACES_EXPORTER" not in env and any(env.get(e) for e in _ENDPOINTS):
        names = ["otlp"]
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter(s) {unknown}; use {EXPORTERS}")
    return names


def enabled() -> bool:
    """Is tracing on in this process? (`setup_tracing` said so.)"""
    return _state["provider"] is not None


def setup_tracing(process: str, service: str) -> bool:
    """Install the tracer provider for this process if the environment asks for one (once)."""
    if enabled():
        return True
    names = requested_exporters()
    if not names:
        return False
    resource = Resource.create(
        {"service.name": process, "service.namespace": "shopflow", "shopflow.service": service}
    )
    processors = [BatchSpanProcessor(_exporter(name)) for name in names]
    provider = TracerProvider(resource=resource)
    # Spans that may only continue a trace, never start one (the SQL of a relay's poll loop).
    children_only = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    for processor in processors:
        provider.add_span_processor(processor)
        children_only.add_span_processor(_Shared(processor))
    trace.set_tracer_provider(provider)
    _state.update(provider=provider, children_only=children_only)
    log.info("tracing on: %s exporter(s), service.name=%s", ", ".join(names), process)
    return True


def tracer(name: str) -> trace.Tracer:
    """This process's tracer (the no-op one while tracing is off). Ask for it when starting a
    span, not at import: the provider is installed after the modules are imported."""
    provider = _state["provider"]
    return provider.get_tracer(name) if provider is not None else trace.get_tracer(name)


def child_tracer(name: str) -> trace.Tracer:
    """A tracer whose spans exist only inside a trace someone else started."""
    provider = _state["children_only"]
    return provider.get_tracer(name) if provider is not None else trace.get_tracer(name)


def current_trace_id() -> str | None:
    """The current trace id in hex (log lines carry it), None outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _exporter(name: str) -> SpanExporter:
    if name == "otlp":
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol != "http/protobuf":
            log.warning("OTLP protocol %r is not installed; using http/protobuf", protocol)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return ConsoleSpanExporter(formatter=lambda span: span.to_json(indent=None) + "\n")


class _Shared(SpanProcessor):
    """One processor fed by two providers: only the first one shuts it down."""

    def __init__(self, inner: SpanProcessor) -> None:
        self._inner = inner

    def on_end(self, span: ReadableSpan) -> None:
        self._inner.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
