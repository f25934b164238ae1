"""Observability for a Celery process (a worker, beat): see process.py for the others."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from services.common.observability import tracing
from services.common.observability.exposition import serve_metrics
from services.common.observability.logs import EventFields, set_event, use_json
from services.common.settings import ServiceSettings


def observe_celery(
    process: str, service: str, settings: ServiceSettings, metrics_port: int, *, trace_tasks: bool
) -> int:
    """Logging, tracing and `/metrics` for a Celery process; returns the metrics port it bound.

    Tracing is set up here, in the worker's main process before the pool starts: the ingress
    runs in this process, and the pool's threads share its tracer (a prefork child inherits it;
    the SDK restarts its export thread after a fork). Celery's instrumentation then carries the
    context from the ingress's hand-off into each task, through the task message's headers.
    """
    if settings.log.format == "json":
        _celery_logs_as_json(service, process)
    signals.task_prerun.connect(_name_the_event, weak=False)
    signals.task_postrun.connect(_forget_the_event, weak=False)
    if tracing.setup_tracing(process, service) and trace_tasks:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    return serve_metrics(settings.metrics.host, metrics_port, process)


def _celery_logs_as_json(service: str, process: str) -> None:
    def switch(logger: logging.Logger, **_kwargs: Any) -> None:
        for handler in logger.handlers:
            use_json(handler, service, process)

    signals.after_setup_logger.connect(switch, weak=False)
    signals.after_setup_task_logger.connect(switch, weak=False)


def _name_the_event(args: Any = None, **_kwargs: Any) -> None:
    """From a task's start to its end (Celery's own "succeeded" / "retry" lines included), log
    lines name the event the task handles: its one argument is the envelope."""
    envelope = args[0] if args else None
    if isinstance(envelope, dict) and "id" in envelope and "type" in envelope:
        set_event(
            EventFields(
                str(envelope["id"]),
                str(envelope["type"]),
                str(envelope.get("correlationid", envelope["id"])),
            )
        )


def _forget_the_event(**_kwargs: Any) -> None:
    set_event(None)
