"""Log lines: readable text by default, one JSON object per line with `LOG_FORMAT=json`.

A JSON line always has `time`, `level`, `logger`, `message`, `service` (orders, inventory, email),
`process` (the Procfile name) and `pid`. A line written while an event is being handled (by the
ingress, around its hand-off; by the task, from its start to Celery's own "succeeded" or
"retry" line) also has `event_id`, `event_type` and `correlation_id`, and `trace_id` / `span_id`
when tracing is on. So `jq 'select(.correlation_id == "...")'` over every process's log gives one
order's whole story, and its `trace_id` leads to the trace.

The event is carried in a context variable (`about_event`), set where the event is known, so no
log call anywhere has to pass it along.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from services.common.settings import LogSettings


@dataclass(frozen=True)
class EventFields:
    event_id: str
    event_type: str
    correlation_id: str


_current_event: ContextVar[EventFields | None] = ContextVar("shopflow_event", default=None)


@contextmanager
def about_event(event_id: str, event_type: str, correlation_id: str) -> Iterator[None]:
    """Every log line written inside this block names the event."""
    token = _current_event.set(EventFields(event_id, event_type, correlation_id))
    try:
        yield
    finally:
        _current_event.reset(token)


def set_event(fields: EventFields | None) -> None:
    """Name the event for the log lines that follow in this thread, or stop (None). For hooks
    that start and end in two calls (Celery's task_prerun / task_postrun)."""
    _current_event.set(fields)


class EventContext(logging.Filter):
    """Adds the current event and trace to each record (a handler's filter, so every logger's
    records pass it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        event = _current_event.get()
        if event is not None:
            record.event_id = event.event_id
            record.event_type = event.event_type
            record.correlation_id = event.correlation_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


class _ProcessJson(JsonFormatter):
    """`process` is the Procfile name; the record's own `process` (the pid) is renamed `pid`."""

    def __init__(self, service: str, process: str) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}{process}",
            style="{",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "process": "pid",
            },
            static_fields={"service": service},
            json_ensure_ascii=False,
        )
        self._process = process

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["process"] = self._process


def json_formatter(service: str, process: str) -> logging.Formatter:
    return _ProcessJson(service, process)


def use_json(handler: logging.Handler, service: str, process: str) -> None:
    handler.setFormatter(json_formatter(service, process))
    if not any(isinstance(f, EventContext) for f in handler.filters):
        handler.addFilter(EventContext())


def configure_logging(log: LogSettings, service: str, process: str) -> None:
    """Root logging for a process that sets it up itself (relays, the API, the SMTP sink)."""
    handler = logging.StreamHandler(sys.stderr)
    if log.format == "json":
        use_json(handler, service, process)
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s [{process}] %(name)s: %(message)s")
        )
    logging.basicConfig(level=log.level, handlers=[handler], force=True)
