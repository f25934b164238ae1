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
    HANDOFF_FAILURES,
    INVALID_TYPE,
)


class Outcome(Enum):
    """How one handler run ended."""

    HANDLED = "handled"
    RETRIED = "retried"
    DEFERRED = "deferred"
    DEAD_LETTERED = "dead_lettered"


class DeadLetterReason(Enum):
    INVALID = "invalid"  # the ingress refused it: not an event we handle
    PERMANENT = "permanent"  # the handler said it never works (or the envelope went bad)
    EXHAUSTED = "retries_exhausted"
    ERROR = "error"  # the handler raised something unexpected: a bug


class IngressMetrics:
    def __init__(self, queue: str, event_types: Iterable[str]) -> None:
        self.consumed = {t: EVENTS_CONSUMED.labels(queue, t) for t in event_types}
        self.consumed_invalid = EVENTS_CONSUMED.labels(queue, INVALID_TYPE)
        self.dead_lettered_invalid = EVENTS_DEAD_LETTERED.labels(
            queue, INVALID_TYPE, DeadLetterReason.INVALID.value
        )
        self.handoff_failures = HANDOFF_FAILURES.labels(queue)


@dataclass(frozen=True)
class _Bound:
    handled: Counter
    retried: Counter
    duration: dict[Outcome, Histogram]


class TaskMetrics:
    """One event task's counters. `queue` is the event queue each type arrives on; a task's dead
    letters are counted against its private queue, whose DLQ gets them."""

    def __init__(self, queues: Mapping[str, str], task_queue: str) -> None:
        self._task_queue = task_queue
        self._bound = {
            event_type: _Bound(
                EVENTS_HANDLED.labels(queue, event_type),
                EVENTS_RETRIED.labels(queue, event_type),
                {o: HANDLER_DURATION.labels(queue, event_type, o.value) for o in Outcome},
            )
            for event_type, queue in queues.items()
        }
        for event_type in queues:
            for reason in DeadLetterReason:
                if reason is not DeadLetterReason.INVALID:
                    EVENTS_DEAD_LETTERED.labels(task_queue, event_type, reason.value)

    def ran(self, event_type: str, outcome: Outcome, seconds: float) -> None:
        bound = self._bound[event_type]
        bound.duration[outcome].observe(seconds)
        if outcome is Outcome.HANDLED:
            bound.handled.inc()
        elif outcome is Outcome.RETRIED:
            bound.retried.inc()

    def dead_lettered(self, event_type: str, reason: DeadLetterReason) -> None:
        EVENTS_DEAD_LETTERED.labels(self._task_queue, event_type, reason.value).inc()
