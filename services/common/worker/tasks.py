"""Event tasks: one per handler. Its first attempt runs straight off the event queue (the ingress
calls `first_attempt` on the pool); only a retry is a Celery message, on the service's private
queue `<svc>.tasks`, and runs as the task (`run`).

First attempt (the raw event is still unacked, and is settled by what this returns):
- done: ack the event;
- a retry is due (`TransientError`, `OperationalError`, `Deferred`): publish the retry task to
  the private queue (mandatory, confirmed: retry_publisher.py), then ack the event; if that
  publish fails, back off and requeue the event: it comes back, and the inbox makes a second
  run harmless;
- dead letter (`PermanentError`, a bug, `RETRY_MAX=0`): reject the event, `requeue=False`, so
  the event queue's policy moves it into `<svc>.<queue>.dlq`.

A retry (the task message, acks_late): done -> acked; again -> `Task.retry` publishes a new
message (confirmed) to the *delivery* exchange and routing key, the private direct exchange
`<svc>.tasks`, never the topic exchange, so no other service sees it, then acks the old one;
dead letter -> the task fails, and with acks_late + `task_acks_on_failure=False` Celery rejects
it (`requeue=False`) into `<svc>.tasks.dlq`. A worker that dies mid-run, in either, leaves the
message unacked: it is redelivered, and the handler's inbox makes it a no-op if the transaction
had committed.

See docs/consuming-events.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from celery import Celery, Task

from services.common.backoff import equal_jitter
from services.common.events import Envelope, InvalidEvent, parse_event
from services.common.observability.metrics import INVALID_TYPE
from services.common.outbox.priority import inherited
from services.common.worker.attempt import EventHandler, describe, run_handler
from services.common.worker.observed import DeadLetterReason, Outcome, TaskMetrics
from services.common.worker.retry_publisher import RetryNotPublished, RetryPublisher
from services.common.worker.settings import RetryPolicy

logger = logging.getLogger("shopflow.tasks")

# While retries cannot be published (the broker refuses, a binding is missing), each requeue of
# the event waits first, doubling up to the cap: a broken private queue never becomes a hot loop.
REQUEUE_BACKOFF_INITIAL = 0.2
REQUEUE_BACKOFF_MAX = 5.0
RETRY_CONFIRM_TIMEOUT = 10.0


class Settle(Enum):
    """What the event loop does with a first attempt's event."""

    ACK = "ack"
    DEAD_LETTER = "dead-letter"  # reject, requeue=False: into the event queue's DLQ
    REQUEUE = "requeue"  # back to the queue, to be delivered again


class EventTask(Task):  # type: ignore[type-arg]
    """Configured by `register_event_task` through class attributes."""

    accept: frozenset[str] = frozenset()
    handler: Callable[[], EventHandler]
    policy: RetryPolicy
    metrics: TaskMetrics
    private_queue: str = ""
    _retries: RetryPublisher | None = None
    _publish_failures = 0  # in a row, for the requeue backoff

    def run(self, envelope: dict[str, Any]) -> None:
        """A retry, from the private queue."""
        try:
            event = parse_event(envelope, accept=set(self.accept))
        except InvalidEvent as exc:
            logger.error("task %s got an invalid envelope, dead-lettering: %s", self.name, exc)
            self.metrics.dead_lettered(self.private_queue, INVALID_TYPE, DeadLetterReason.PERMANENT)
            raise
        retries = self.request.retries
        # The event's priority, which its first attempt gave this task (and Celery gives each
        # retry of it): what the handler publishes keeps the order's lane.
        with inherited((self.request.delivery_info or {}).get("priority")):
            attempt = run_handler(
                event,
                self.handler(),
                self.policy,
                self.metrics,
                retries=retries,
                dead_letter_queue=self.private_queue,
            )
        if attempt.outcome is Outcome.HANDLED:
            return
        if attempt.outcome is Outcome.DEAD_LETTERED:
            assert attempt.error is not None
            raise attempt.error
        # Waiting for a lease never counts as failing: allow one more than now.
        limit = retries + 1 if attempt.outcome is Outcome.DEFERRED else None
        raise self.retry(exc=attempt.error, countdown=attempt.delay, max_retries=limit)

    def first_attempt(
        self, event: Envelope[Any], queue: str, priority: int | None = None
    ) -> Settle:
        """The first run, off `queue`, of an event that came with AMQP `priority`; on a pool
        thread (or prefork child). Never raises."""
        attempt = run_handler(
            event, self.handler(), self.policy, self.metrics, retries=0, dead_letter_queue=queue
        )
        if attempt.outcome is Outcome.HANDLED:
            return Settle.ACK
        if attempt.outcome is Outcome.DEAD_LETTERED:
            return Settle.DEAD_LETTER
        try:
            self._retry_publisher().publish(self.name, event, attempt.delay, priority)
        except RetryNotPublished as exc:
            return self._requeue_later(event, queue, exc)
        self._publish_failures = 0
        return Settle.ACK

    def _requeue_later(self, event: Envelope[Any], queue: str, exc: RetryNotPublished) -> Settle:
        self.metrics.retry_not_published(queue)
        self._publish_failures += 1
        delay = equal_jitter(
            self._publish_failures - 1, base=REQUEUE_BACKOFF_INITIAL, cap=REQUEUE_BACKOFF_MAX
        )
        logger.error(
            "%s: its retry could not be published (%s; %d in a row); requeueing the event in %.1fs",
            describe(event),
            exc,
            self._publish_failures,
            delay,
        )
        time.sleep(delay)  # on this pool thread only: the event loop goes on
        return Settle.REQUEUE

    def _retry_publisher(self) -> RetryPublisher:
        if self._retries is None:
            self._retries = RetryPublisher(self.app, RETRY_CONFIRM_TIMEOUT)
        return self._retries


def register_event_task(
    app: Celery,
    name: str,
    accept: frozenset[str],
    handler: Callable[[], EventHandler],
    policy: RetryPolicy,
    metrics: TaskMetrics,
    private_queue: str,
) -> EventTask:
    """Register task `name`, which runs `handler()(event)` for events of the `accept` types.

    `handler` is called per run and returns the process's injected handler (built on first use),
    so nothing is built at import time. The task belongs to `app` alone (a class registered on
    it, not Celery's shared `@task`): a module that imports a worker module and builds a worker
    of its own (the tests' fault-injection workers) must not get both callables under one name.
    """
    task_class = type(
        f"EventTask[{name}]",
        (EventTask,),
        {
            "name": name,
            "max_retries": policy.max,
            "accept": accept,
            "handler": staticmethod(handler),
            "policy": policy,
            "metrics": metrics,
            "private_queue": private_queue,
        },
    )
    task: EventTask = app.register_task(task_class())
    return task
