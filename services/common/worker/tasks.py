"""Thin event tasks: parse the envelope the ingress handed over, call the handler, and turn its
failures into retries or dead letters.

- Success: the task returns and its message is acked (acks_late: only now).
- `TransientError`, or a database `OperationalError` (locked, unreachable): `Task.retry` with
  countdown `c/2 + uniform(0, c/2)`, `c = min(retry_backoff_max_seconds, retry_backoff_seconds *
  2**n)` (exponential backoff with "equal jitter"; n = retries so far), at most `retry_max` times
  (`<SVC>_RETRY_*`). Equal rather than full jitter, because it guarantees how long the retries
  last: with the defaults at least 31 s from the first failure to the dead letter, so a short
  outage (an SMTP server restarting) never dead-letters work. A retry
  is a new message published (confirmed) to the *delivery* exchange and routing key, i.e. the
  service's private direct exchange `<svc>.tasks`, never the topic exchange, so no other service
  ever sees it; the old message is acked after that publish.
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
from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from sqlalchemy.exc import OperationalError

from services.common.events import Envelope, InvalidEvent, parse_event
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.common.worker.settings import WorkerSettings

logger = logging.getLogger("shopflow.tasks")

Handler = Callable[[Envelope[Any]], object]
RETRYABLE = (TransientError, OperationalError)


def backoff_seconds(retries: int, settings: WorkerSettings) -> float:
    """Equal jitter: half of min(cap, base * 2**retries), plus up to that half again at random."""
    ceiling = min(settings.retry_backoff_max_seconds, settings.retry_backoff_seconds * 2**retries)
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def event_task(
    app: Celery,
    name: str,
    handler_factory: Callable[[], Handler],
    settings: WorkerSettings,
    *,
    event_types: set[str],
) -> Task:  # type: ignore[type-arg]
    """Register task `name` that runs `handler_factory()(envelope)` for the given event types.

    `handler_factory` is called per run (it returns a cached, bootstrapped handler), so nothing is
    built at import time.
    """

    @app.task(name=name, bind=True, max_retries=settings.retry_max)
    def run(self: Task, envelope: dict[str, Any]) -> None:  # type: ignore[type-arg]
        try:
            event = parse_event(envelope, accept=event_types)
        except InvalidEvent as exc:
            logger.error("task %s got an invalid envelope, dead-lettering: %s", name, exc.reason)
            raise PermanentError(exc.reason) from exc
        try:
            handler_factory()(event)
        except PermanentError as exc:
            logger.error(
                "event %s %s correlation=%s failed permanently, dead-lettering: %s",
                event.type,
                event.id,
                event.correlationid,
                exc,
            )
            raise
        except Deferred as exc:
            # Look again soon (the holder usually finishes in milliseconds), backing off as for
            # a failure, but never later than the end of the holder's lease.
            delay = min(
                exc.seconds + random.uniform(0, 1), backoff_seconds(self.request.retries, settings)
            )
            logger.info(
                "event %s %s correlation=%s deferred (%s); again in %.1fs",
                event.type,
                event.id,
                event.correlationid,
                exc,
                delay,
            )
            # max_retries: one more than now, so waiting never counts as failing
            raise self.retry(
                exc=exc, countdown=delay, max_retries=self.request.retries + 1
            ) from exc
        except RETRYABLE as exc:
            retries = self.request.retries
            if retries >= settings.retry_max:
                logger.error(
                    "event %s %s correlation=%s still failing after %d retries, dead-lettering: %s",
                    event.type,
                    event.id,
                    event.correlationid,
                    retries,
                    exc,
                )
                raise
            delay = backoff_seconds(retries, settings)
            logger.warning(
                "event %s %s correlation=%s failed (%s); retry %d/%d in %.1fs",
                event.type,
                event.id,
                event.correlationid,
                exc,
                retries + 1,
                settings.retry_max,
                delay,
            )
            raise self.retry(exc=exc, countdown=delay) from exc
        logger.info("handled event %s %s correlation=%s", event.type, event.id, event.correlationid)

    return run
