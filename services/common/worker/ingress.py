"""The event ingress: how raw events from a service's event queue become Celery tasks.

Raw events never reach Celery's own task consumer, because Celery *acks and drops* a message it
cannot decode as a task. Instead this `ConsumerStep`, running inside the worker, reads the event
queue on its own channel and, for each message:

1. checks the content type is `application/json`, parameters and all (`; charset=utf-8`:
   worker/content_type.py);
2. validates the envelope and payload against the contract (`parse_event`);
3. publishes a task with the envelope to the service's private task queue and waits for the
   broker's publisher confirm;
4. only then acks the event.

Anything that fails 1 or 2 is rejected with `requeue=False`, so the queue's dead-letter policy
moves it into `<queue>.dlq` (its `x-death` header says `rejected`), and the reason is logged
with the message id. A failed hand-off (3) leaves the event unacked and requeues it: it is never
lost, at worst handed off twice, which the handlers' inbox makes harmless. While hand-offs keep
failing (the private exchange refuses, the broker nacks), the step waits before each requeue
(`equal_jitter`, doubling from `HANDOFF_BACKOFF_INITIAL` up to `HANDOFF_BACKOFF_MAX` seconds),
so a broken hand-off never turns into a hot redelivery loop. The wait blocks only this worker's
consumer loop, which cannot make progress anyway; the broker heartbeat (30 s) is far above the
cap.

The hand-off is published `mandatory` (a missing binding is an error, not a silent confirm) with
a confirm timeout, on a producer connection of the step's own. Both connections log in as the
service's user, from the worker's broker URL; the step declares nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from celery import Celery, bootsteps
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.message import Message
from opentelemetry.trace import Span

from services.common.backoff import equal_jitter
from services.common.events import Envelope, InvalidEvent, parse_event
from services.common.observability import tracing
from services.common.observability.logs import about_event
from services.common.observability.messaging import consumer_span, fail
from services.common.worker.content_type import json_content_type_problem
from services.common.worker.observed import IngressMetrics

logger = logging.getLogger("shopflow.ingress")

HANDOFF_BACKOFF_INITIAL = 0.2
HANDOFF_BACKOFF_MAX = 5.0


class HandoffError(Exception):
    """The broker did not take the task message (returned as unroutable, or nacked)."""


class LoopSentEvents:
    """Celery's `task-sent` event for a hand-off, given to the worker's own event dispatcher.

    By default Celery publishes it on the hand-off's producer: a second confirmed publish, and a
    second broker round trip inside the event loop, for every event. The worker's dispatcher
    buffers it with the task events and the loop publishes them in batches (worker/events.py).
    Flower still sees every `task-sent`."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    def publish(self, type: str, fields: dict[str, Any], *_args: Any, **_kwargs: Any) -> None:
        dispatcher = getattr(self._consumer, "event_dispatcher", None)
        if dispatcher is not None:
            dispatcher.send(type, **fields)


class EventIngress(bootsteps.ConsumerStep):
    """Configured through class attributes set by `install_event_ingress`."""

    queue_name: str = ""
    routes: Mapping[str, str] = {}
    prefetch: int = 32
    confirm_timeout: float = 10.0

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.app: Celery = parent.app
        self.failures = 0  # hand-off failures in a row
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._returned: list[str] = []
        self._sent_events = LoopSentEvents(parent)
        self._metrics = IngressMetrics(self.queue_name, self.routes)

    def get_consumers(self, channel: Any) -> list[Consumer]:
        channel.basic_qos(prefetch_size=0, prefetch_count=self.prefetch, a_global=False)
        queue = Queue(self.queue_name, no_declare=True)
        return [Consumer(channel, queues=[queue], on_message=self.on_message, no_ack=False)]

    def stop(self, parent: Any) -> None:
        self._release(parent, cancel=True)

    def shutdown(self, parent: Any) -> None:
        self._release(parent, cancel=False)

    def _release(self, parent: Any, *, cancel: bool) -> None:
        """Cancel our consumers, close their channel, drop the producer.

        Not Celery's `ConsumerStep._close`: after a connection loss Celery 5.7 has already closed
        and cleared `parent.connection` when it stops the steps, and `_close` then fails with
        AttributeError ('NoneType' has no 'connection_errors'), leaving the step half-stopped
        with a dead producer (found by the reliability suite, full broker restart)."""
        consumers, self.consumers = list(self.consumers or []), None
        if parent.connection is not None:  # a live connection: a clean cancel and close
            for consumer in consumers:
                if cancel:
                    with suppress(Exception):
                        consumer.cancel()
                channel: Any = consumer.channel
                if channel is not None:
                    with suppress(Exception):
                        channel.close()
        self._drop_producer()

    def on_message(self, message: Message) -> None:
        if not tracing.enabled():
            self._take(message, None)
            return
        with consumer_span(
            self.queue_name, message.properties, message.delivery_info, message.headers
        ) as span:
            self._take(message, span)

    def _take(self, message: Message, span: Span | None) -> None:
        message_id = message.properties.get("message_id")
        problem = json_content_type_problem(message.content_type)
        if problem is not None:
            self._reject(message, message_id, problem, span)
            return
        try:
            event = parse_event(message.body or b"", accept=set(self.routes))
        except InvalidEvent as exc:
            self._reject(message, message_id, exc.reason, span)
            return
        self._metrics.consumed[event.type].inc()
        with about_event(event.id, event.type, event.correlationid):
            self._hand_off_then_ack(message, event, span)

    def _hand_off_then_ack(self, message: Message, event: Envelope[Any], span: Span | None) -> None:
        task_name = self.routes[event.type]
        try:
            self._hand_off(task_name, event)
        except Exception as exc:
            # Not confirmed: keep the event. It comes back to this or another worker.
            self._drop_producer()
            self._metrics.handoff_failures.inc()
            if span is not None:
                fail(span, f"hand-off not confirmed: {exc}", "handoff_failed")
            self.failures += 1
            delay = equal_jitter(
                self.failures - 1, base=HANDOFF_BACKOFF_INITIAL, cap=HANDOFF_BACKOFF_MAX
            )
            logger.exception(
                "hand-off of event %s %s correlation=%s to %s failed (%d in a row); "
                "requeueing in %.1fs",
                event.type,
                event.id,
                event.correlationid,
                task_name,
                self.failures,
                delay,
            )
            time.sleep(delay)
            message.requeue()
            return
        self.failures = 0
        message.ack()
        logger.info(
            "event %s %s correlation=%s -> task %s",
            event.type,
            event.id,
            event.correlationid,
            task_name,
        )

    def _hand_off(self, task_name: str, event: Envelope[Any]) -> None:
        """Publish the task (mandatory, confirmed) on the ingress's own connection.

        A connection of its own, so that waiting for the confirm never reads (and dispatches)
        frames of the consumer connection from inside this callback. `mandatory` plus the
        return handler turn a missing binding into an error instead of a silent confirm.

        `retry=False`: kombu's own publish retry would reconnect and wait for another confirm
        timeout, up to four times, all inside the worker's event loop. A failure here already
        has its answer (drop the producer, back off, requeue the event), so one timeout is the
        most the loop ever waits (found by the reliability suite: a worker's loop stalled in
        that retry after a full broker restart)."""
        self._returned.clear()
        self.app.send_task(
            task_name,
            args=[event.to_dict()],
            task_id=f"{event.type}:{event.id}",
            # What Flower and the logs show for the arguments: Celery's default is a `saferepr`
            # of the whole envelope, about a tenth of the hand-off's CPU (docs/benchmarks.md).
            argsrepr=f"[{event.type} {event.id} correlation={event.correlationid}]",
            kwargsrepr="{}",
            headers={"correlation_id": event.correlationid},
            producer=self._get_producer(),
            mandatory=True,
            confirm_timeout=self.confirm_timeout,
            retry=False,
            event_dispatcher=self._sent_events,
        )
        if self._returned:
            raise HandoffError("; ".join(self._returned))

    def _get_producer(self) -> Producer:
        if self._producer is None:
            # No heartbeat: nothing would drive it on this connection, so the broker would close
            # it after two idle intervals and the next hand-off would find it dead. A dead
            # connection shows up as a failed publish or a confirm timeout instead.
            connection = self.app.connection_for_write(heartbeat=0)
            # One attempt per node of BROKER_NODES (kombu's failover alternates, `alt`), so a
            # node that is down costs one refused connection, not a failed hand-off.
            connection.ensure_connection(max_retries=max(1, len(connection.alt) - 1))
            self._connection = connection
            self._producer = Producer(connection.channel(), on_return=self._on_return)
        return self._producer

    def _on_return(
        self, exc: Exception, exchange: Exchange | str, routing_key: str, _msg: Message
    ) -> None:
        self._returned.append(f"returned by the broker: {exc} ({exchange!r} / {routing_key!r})")

    def _drop_producer(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            with suppress(Exception):
                connection.release()

    def _reject(
        self, message: Message, message_id: str | None, reason: str, span: Span | None
    ) -> None:
        self._metrics.consumed_invalid.inc()
        self._metrics.dead_lettered_invalid.inc()
        if span is not None:
            fail(span, reason, "invalid_event")
        logger.warning(
            "rejected message %s from %s (dead-lettered): %s",
            message_id or "(no message_id)",
            self.queue_name,
            reason,
        )
        message.reject(requeue=False)


def install_event_ingress(
    app: Celery,
    *,
    queue: str,
    routes: Mapping[str, str],
    prefetch: int = 32,
    confirm_timeout: float = 10.0,
) -> None:
    """Add the ingress step for `queue` to `app`'s worker, routing event types to task names."""
    step = type(
        "EventIngress_" + queue.replace(".", "_"),
        (EventIngress,),
        {
            "queue_name": queue,
            "routes": dict(routes),
            "prefetch": prefetch,
            "confirm_timeout": confirm_timeout,
        },
    )
    app.steps["consumer"].add(step)
