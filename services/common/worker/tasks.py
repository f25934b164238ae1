"""Thin event tasks: parse the envelope the ingress handed over, call the handler, and turn its
failures into retries or dead letters.

- Success: the task returns and its message is acked (acks_late: only now).
- `TransientError`, or a database `OperationalError` (locked, unreachable): `Task.retry` after
  `equal_jitter` of the retries so far (services/common/backoff.py), at most `RetryPolicy.max`
  times (`RETRY_*`, `<SERVICE>_RETRY_*`). A retry is a new message published (confirmed) to the
  *delivery* exchange and routing key, i.e. the service's private direct exchange
  `<svc>.tasks`, never the topic exchange, so no other service ever sees it; the old message is
  acked after that publish.
- `Deferred` (another live worker holds the work's lease): retried with the same backoff, but
  never later than the end of that lease, and outside the retry budget.
- `PermanentError`, an envelope that no longer validates, the last retry failing, or any other
  exception (a bug): the task fails; with acks_late and `task_acks_on_failure=False` Celery
  rejects the message (requeue=False) and the private queue's policy dead-letters it into
  `<svc>.tasks.dlq`. The reason is logged with the event id and correlation id, and is in Flower.
- A worker that dies mid-task: the message is redelivered (the handler's inbox makes it a no-op if
  the transaction had committed).

See docs/consuming-events.md.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from celery.exceptions import Retry
from sqlalchemy.exc import OperationalError

from services.common.backoff import equal_jitter
from services.common.events import Envelope, InvalidEvent, parse_event
from services.common.observability.metrics import INVALID_TYPE
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.common.worker.observed import DeadLetterReason, Outcome, TaskMetrics
from services.common.worker.settings import RetryPolicy

logger = logging.getLogger("shopflow.tasks")

EventHandler = Callable[[Envelope[Any]], object]
RETRYABLE = (TransientError, OperationalError)


def describe(event: Envelope[Any]) -> str:
    return f"event {event.describe()}"


def register_event_task(
    app: Celery,
    name: str,
    accept: frozenset[str],
    handler: Callable[[], EventHandler],
    policy: RetryPolicy,
    metrics: TaskMetrics,
) -> Task:  # type: ignore[type-arg]
    """Register task `name`, which runs `handler()(event)` for events of the `accept` types.

    `handler` is called per run and returns the process's injected handler (built on first
    use), so nothing is built at import time.

    `shared=False`: the task belongs to `app` alone. Celery's default shares it with every app
    finalized later in the process, so a module that imports a worker module and builds a
    worker of its own (the tests' paused worker) got both callables under one name, and which
    one ran depended on the order of a set of callbacks (object addresses).
    """

    @app.task(name=name, bind=True, max_retries=policy.max, shared=False)
    def run(self: Task, envelope: dict[str, Any]) -> None:  # type: ignore[type-arg]
        try:
            event = _parse(name, envelope, accept)
        except PermanentError:
            metrics.dead_lettered(INVALID_TYPE, DeadLetterReason.PERMANENT)
            raise
        _handle(self, event, handler, policy, metrics)
        # DEBUG: every handler logs its own outcome at INFO, with what it did
        logger.debug("handled %s", describe(event))

    return run


def _handle(
    task: Task,  # type: ignore[type-arg]
    event: Envelope[Any],
    handler: Callable[[], EventHandler],
    policy: RetryPolicy,
    metrics: TaskMetrics,
) -> None:
    """Run the handler and count how it ended (its duration includes scheduling a retry); a
    retry or a dead letter leaves as the exception Celery acts on."""
    started = time.perf_counter()
    outcome = Outcome.DEAD_LETTERED
    try:
        handler()(event)
        outcome = Outcome.HANDLED
    except PermanentError as exc:
        logger.error("%s failed permanently, dead-lettering: %s", describe(event), exc)
        metrics.dead_lettered(event.type, DeadLetterReason.PERMANENT)
        raise
    except Deferred as exc:
        outcome = Outcome.DEFERRED
        raise _defer(task, event, exc, policy) from exc
    except RETRYABLE as exc:
        if task.request.retries >= policy.max:
            logger.error(
                "%s still failing after %d retries, dead-lettering: %s",
                describe(event),
                task.request.retries,
                exc,
            )
            metrics.dead_lettered(event.type, DeadLetterReason.EXHAUSTED)
            raise
        outcome = Outcome.RETRIED
        raise _retry(task, event, exc, policy) from exc
    except Exception:
        metrics.dead_lettered(event.type, DeadLetterReason.ERROR)
        raise
    finally:
        metrics.ran(event.type, outcome, time.perf_counter() - started)


def _parse(task_name: str, envelope: dict[str, Any], accept: frozenset[str]) -> Envelope[Any]:
    try:
        return parse_event(envelope, accept=set(accept))
    except InvalidEvent as exc:
        logger.error("task %s got an invalid envelope, dead-lettering: %s", task_name, exc.reason)
        raise PermanentError(exc.reason) from exc


def _backoff(retries: int, policy: RetryPolicy) -> float:
    return equal_jitter(retries, base=policy.backoff_seconds, cap=policy.backoff_max_seconds)


def _retry(
    task: Task,  # type: ignore[type-arg]
    event: Envelope[Any],
    exc: Exception,
    policy: RetryPolicy,
) -> Retry:
    retries = task.request.retries
    delay = _backoff(retries, policy)
    logger.warning(
        "%s failed (%s); retry %d/%d in %.1fs",
        describe(event),
        exc,
        retries + 1,
        policy.max,
        delay,
    )
    return task.retry(exc=exc, countdown=delay)


def _defer(
    task: Task,  # type: ignore[type-arg]
    event: Envelope[Any],
    exc: Deferred,
    policy: RetryPolicy,
) -> Retry:
    """Look again soon (the holder usually finishes in milliseconds), backing off as for a
    failure, but never later than the end of the holder's lease."""
    delay = min(exc.seconds + random.uniform(0, 1), _backoff(task.request.retries, policy))
    logger.info("%s deferred (%s); again in %.1fs", describe(event), exc, delay)
    # max_retries: one more than now, so waiting never counts as failing
    return task.retry(exc=exc, countdown=delay, max_retries=task.request.retries + 1)
