"""One run of a handler, and what should happen next: the rule every attempt follows, the first
(run by the ingress, straight off the event queue) and every retry (a Celery task on the
service's private queue).

- The handler returned (a duplicate included): done.
- `TransientError`, or a database `OperationalError` (locked, unreachable): try again after
  `equal_jitter` of the retries so far (services/common/backoff.py), unless `RetryPolicy.max`
  retries were already made: then dead-letter.
- `Deferred` (another live worker holds the work's lease): look again at the earlier of the end
  of that lease and the same backoff, outside the retry budget.
- `PermanentError`, or anything else (a bug): dead-letter at once.

The outcome is logged here, with the event, so that both paths write the same lines.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from services.common.backoff import equal_jitter
from services.common.events import Envelope
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.common.worker.observed import DeadLetterReason, Outcome, TaskMetrics
from services.common.worker.settings import RetryPolicy

logger = logging.getLogger("shopflow.tasks")

EventHandler = Callable[[Envelope[Any]], object]
RETRYABLE = (TransientError, OperationalError)


@dataclass(frozen=True)
class Attempt:
    """How a run ended. `delay` is when to try again (RETRIED, DEFERRED); `error` is what the
    handler raised (every outcome but HANDLED)."""

    outcome: Outcome
    delay: float = 0.0
    error: Exception | None = None
    reason: DeadLetterReason | None = None  # DEAD_LETTERED only


def describe(event: Envelope[Any]) -> str:
    return f"event {event.describe()}"


def run_handler(
    event: Envelope[Any],
    handler: EventHandler,
    policy: RetryPolicy,
    metrics: TaskMetrics,
    *,
    retries: int,
    dead_letter_queue: str,
) -> Attempt:
    """Run `handler(event)` once (`retries` runs came before) and say what should follow.

    Never raises an `Exception`: the caller acts on the answer. `dead_letter_queue` is the queue
    whose DLQ gets the event if it is dead-lettered (for the metric)."""
    started = time.perf_counter()
    attempt = _classify(event, handler, policy, retries)
    metrics.ran(event.type, attempt.outcome, time.perf_counter() - started)
    if attempt.reason is not None:
        metrics.dead_lettered(dead_letter_queue, event.type, attempt.reason)
    return attempt


def _classify(
    event: Envelope[Any], handler: EventHandler, policy: RetryPolicy, retries: int
) -> Attempt:
    try:
        handler(event)
        return Attempt(Outcome.HANDLED)
    except PermanentError as exc:
        logger.error("%s failed permanently, dead-lettering: %s", describe(event), exc)
        return Attempt(Outcome.DEAD_LETTERED, error=exc, reason=DeadLetterReason.PERMANENT)
    except Deferred as exc:
        # The holder usually finishes in milliseconds: look again soon, backing off as for a
        # failure, but never later than the end of its lease.
        delay = min(exc.seconds + random.uniform(0, 1), backoff(retries, policy))
        logger.info("%s deferred (%s); again in %.1fs", describe(event), exc, delay)
        return Attempt(Outcome.DEFERRED, delay=delay, error=exc)
    except RETRYABLE as exc:
        if retries >= policy.max:
            logger.error(
                "%s still failing after %d retries, dead-lettering: %s",
                describe(event),
                retries,
                exc,
            )
            return Attempt(Outcome.DEAD_LETTERED, error=exc, reason=DeadLetterReason.EXHAUSTED)
        delay = backoff(retries, policy)
        logger.warning(
            "%s failed (%s); retry %d/%d in %.1fs",
            describe(event),
            exc,
            retries + 1,
            policy.max,
            delay,
        )
        return Attempt(Outcome.RETRIED, delay=delay, error=exc)
    except Exception as exc:
        logger.exception("%s failed with an unexpected error, dead-lettering", describe(event))
        return Attempt(Outcome.DEAD_LETTERED, error=exc, reason=DeadLetterReason.ERROR)


def backoff(retries: int, policy: RetryPolicy) -> float:
    return equal_jitter(retries, base=policy.backoff_seconds, cap=policy.backoff_max_seconds)
