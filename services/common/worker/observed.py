"""The worker's counters, bound once per queue and event type (docs/observability.md).

Every series a worker can move exists from its start at 0, so a dashboard's `rate()` and a test's
"moved by exactly N" both see the first event; and the hot path increments a bound child instead
of looking its labels up per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from prometheus_client import Counter, Histogram

from services.common.observability.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_HANDLED,
    EVENTS_RETRIED,
    HANDLER_DURATION,
    INVALID_TYPE,
    RETRY_PUBLISH_FAILURES,
)


class Outcome(Enum):
    """How one handler run ended."""

    HANDLED = "handled"
    RETRIED = "retried"
    DEFERRED = "deferred"
    DEAD_LETTERED = "dead_lettered"


class DeadLetterReason(Enum):
    INVALID = "invalid"  # not an event we handle: refused before any handler ran
    PERMANENT = "permanent"  # the handler said it never works
    EXHAUSTED = "retries_exhausted"
    ERROR = "error"  # the handler raised something unexpected: a bug


class IngressMetrics:
    """What the ingress counts for one event queue, before any handler runs."""

    def __init__(self, queue: str, event_types: Iterable[str]) -> None:
        self.consumed = {t: EVENTS_CONSUMED.labels(queue, t) for t in event_types}
        self.consumed_invalid = EVENTS_CONSUMED.labels(queue, INVALID_TYPE)
        self.dead_lettered_invalid = EVENTS_DEAD_LETTERED.labels(
            queue, INVALID_TYPE, DeadLetterReason.INVALID.value
        )


@dataclass(frozen=True)
class _Bound:
    handled: Counter
    retried: Counter
    duration: dict[Outcome, Histogram]


class TaskMetrics:
    """One handler's counters. `queues` maps each event type to the event queue it arrives on. A
    dead letter is counted against the queue whose DLQ gets it: the event queue for a first
    attempt, the private task queue for a retry."""

    def __init__(self, queues: Mapping[str, str], task_queue: str) -> None:
        self._bound = {
            event_type: _Bound(
                EVENTS_HANDLED.labels(queue, event_type),
                EVENTS_RETRIED.labels(queue, event_type),
                {o: HANDLER_DURATION.labels(queue, event_type, o.value) for o in Outcome},
            )
            for event_type, queue in queues.items()
        }
        for event_type, queue in queues.items():
            RETRY_PUBLISH_FAILURES.labels(queue)
            for reason in DeadLetterReason:
                if reason is not DeadLetterReason.INVALID:
                    EVENTS_DEAD_LETTERED.labels(queue, event_type, reason.value)
                    EVENTS_DEAD_LETTERED.labels(task_queue, event_type, reason.value)

    def ran(self, event_type: str, outcome: Outcome, seconds: float) -> None:
        bound = self._bound[event_type]
        bound.duration[outcome].observe(seconds)
        if outcome is Outcome.HANDLED:
            bound.handled.inc()
        elif outcome is Outcome.RETRIED:
            bound.retried.inc()

    def dead_lettered(self, queue: str, event_type: str, reason: DeadLetterReason) -> None:
        EVENTS_DEAD_LETTERED.labels(queue, event_type, reason.value).inc()

    def retry_not_published(self, queue: str) -> None:
        RETRY_PUBLISH_FAILURES.labels(queue).inc()
