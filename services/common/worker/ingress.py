"""The event ingress: a service's event queues, consumed once, inside its Celery worker.

Raw events never reach Celery's own task consumer, because Celery *acks and drops* a message it
cannot decode as a task. This `ConsumerStep` (Celery's "Custom Message Consumers") reads the
service's event queues on a channel of its own instead, and for each message, on the event loop:

1. checks the content type is `application/json`, parameters and all (`; charset=utf-8`:
   worker/content_type.py), and rejects anything else at once (`requeue=False`: the queue's
   dead-letter policy moves it into `<queue>.dlq`, `x-death` reason `rejected`);
2. gives the body to the worker's pool, which validates it against its contract and runs the
   handler's first attempt (first_attempt.py, tasks.py: a retry, only, becomes a Celery task on
   the private queue `<svc>.tasks`);
3. settles the message on the event loop with what the pool answered: ack once the handler's
   transaction committed (or its retry was confirmed on the private queue), reject into the DLQ
   (not an event we handle, or a permanent failure), or requeue (its retry could not be
   published).

Results travel from the pool back to the loop as callbacks given to the loop's hub
(`Hub.call_soon`, which kombu makes safe to call from another thread: it wakes the loop through a
socket pair), because channels are not thread-safe: only the loop's thread acks.

The work a worker holds is one bound: the channel's prefetch, WORKER_CONCURRENCY x
WORKER_PREFETCH_MULTIPLIER unacked events, of which the pool runs WORKER_CONCURRENCY at a time.

Stopping (SIGTERM, a warm shutdown): `stop` cancels the consumer, so no new event arrives; Celery
then stops the pool, which finishes the attempts it is running and drops the ones it had not
started, and closes the hub, which runs the callbacks still waiting, so what finished is settled
on the still open channel; `shutdown` then closes the channel, which gives every event not
settled back to the queue (the inbox makes a repeat harmless).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from celery import bootsteps
from kombu import Consumer, Queue
from kombu.message import Message

from services.common.observability import tracing
from services.common.worker.content_type import json_content_type_problem
from services.common.worker.first_attempt import Delivery, run_first_attempt
from services.common.worker.observed import IngressMetrics
from services.common.worker.tasks import Settle

logger = logging.getLogger("shopflow.ingress")


class EventIngress(bootsteps.ConsumerStep):
    """Configured through class attributes set by `install_event_ingress`."""

    routes: Mapping[str, Mapping[str, str]] = {}  # queue -> (event type -> task name)
    prefetch: int = 16

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._hub: Any = None
        self._held: dict[int, Message] = {}  # token -> the message, until it is settled
        self._tokens = itertools.count()
        self._channel: Any = None
        self._pool: Any = None
        self._metrics = {q: IngressMetrics(q, types) for q, types in self.routes.items()}

    def start(self, parent: Any) -> None:
        """A channel of our own and its consumers, not consuming yet: a delivery that arrived
        before the event loop runs would find a prefork pool that cannot take work yet."""
        if parent.hub is None:
            raise RuntimeError("the event ingress needs Celery's event loop (pool threads/prefork)")
        self._pool, self._hub = parent.pool, parent.hub
        self.consumers = self.get_consumers(parent.connection.channel())

    def register_with_event_loop(self, parent: Any, hub: Any) -> None:
        """The loop starts (and starts again after a reconnect): now take events."""
        for consumer in self.consumers or ():
            consumer.consume()

    def get_consumers(self, channel: Any) -> list[Consumer]:
        self._channel = channel
        self._held.clear()  # a new channel: the old one's messages are back in their queues
        channel.basic_qos(prefetch_size=0, prefetch_count=self.prefetch, a_global=False)
        return [
            Consumer(
                channel,
                queues=[Queue(queue, no_declare=True)],
                on_message=functools.partial(self.on_message, queue),
                no_ack=False,
            )
            for queue in self.routes
        ]

    def on_message(self, queue: str, message: Message) -> None:
        """On the event loop: refuse what is not JSON, give the rest to the pool."""
        problem = json_content_type_problem(message.content_type)
        if problem is not None:
            self._reject_unread(message, queue, problem)
            return
        token = next(self._tokens)
        self._held[token] = message
        self._pool.apply_async(
            run_first_attempt,
            (self.routes[queue], message.body, _delivery(message, queue)),
            callback=functools.partial(self._post, token),
            error_callback=functools.partial(self._lost, token),
        )

    def _post(self, token: int, result: Any) -> None:
        """The pool's callback: on a pool thread (threads), on the loop (prefork)."""
        self._hub.call_soon(self._settle, token, result if isinstance(result, Settle) else None)

    def _lost(self, token: int, _error: Any) -> None:
        """A prefork child died mid-attempt: the event goes back to the queue."""
        self._hub.call_soon(self._settle, token, None)

    def _settle(self, token: int, settle: Settle | None) -> None:
        """On the event loop's thread (or while Celery closes the hub, after the pool stopped)."""
        message = self._held.pop(token, None)
        if message is None:
            return  # it came on a channel that is gone: the broker has requeued it
        try:
            if settle is Settle.ACK:
                message.ack()
            elif settle is Settle.DEAD_LETTER:
                message.reject(requeue=False)
            else:
                message.requeue()
        except Exception as exc:  # the channel died meanwhile: the broker has it again
            logger.warning(
                "could not settle message %s (%s); it will be redelivered",
                message.properties.get("message_id"),
                exc,
            )

    def _reject_unread(self, message: Message, queue: str, reason: str) -> None:
        metrics = self._metrics[queue]
        metrics.consumed_invalid.inc()
        metrics.dead_lettered_invalid.inc()
        logger.warning(
            "rejected message %s from %s (dead-lettered): %s",
            message.properties.get("message_id") or "(no message_id)",
            queue,
            reason,
        )
        message.reject(requeue=False)

    def stop(self, parent: Any) -> None:
        """Take no more events. What finishes from now on is settled when Celery closes the hub;
        after a lost connection it is back in its queue already."""
        if parent.connection is None:  # lost: Celery has closed it, nothing to cancel
            return
        for consumer in self.consumers or ():
            with suppress(Exception):
                consumer.cancel()

    def shutdown(self, parent: Any) -> None:
        """After the pool stopped and the hub ran its last callbacks: close the channel, which
        gives whatever is still held back to its queue.

        (Not Celery's `ConsumerStep._close`: after a connection loss Celery 5.7 has already
        closed and cleared `parent.connection`, and `_close` fails with AttributeError.)"""
        self.consumers = None
        channel, self._channel = self._channel, None
        self._held.clear()
        if parent.connection is not None and channel is not None:
            with suppress(Exception):
                channel.close()


def _delivery(message: Message, queue: str) -> Delivery:
    """Plain values only (a prefork child gets a pickled copy); tracing's only when it is on."""
    properties = message.properties
    found: Any = properties.get("priority")
    priority = found if isinstance(found, int) else None
    if not tracing.enabled():
        return Delivery(queue, properties.get("message_id"), priority)
    info = message.delivery_info
    return Delivery(
        queue,
        properties.get("message_id"),
        priority,
        {k: properties.get(k) for k in ("message_id", "correlation_id")},
        {k: info.get(k) for k in ("exchange", "routing_key", "redelivered", "delivery_tag")},
        dict(message.headers or {}),
    )


def install_event_ingress(
    app: Any, *, routes: Mapping[str, Mapping[str, str]], prefetch: int
) -> None:
    """Add the ingress step to `app`'s worker: `routes` maps each event queue of the service to
    its {event type: task name}."""
    step = type(
        "EventIngress",
        (EventIngress,),
        {"routes": {queue: dict(types) for queue, types in routes.items()}, "prefetch": prefetch},
    )
    app.steps["consumer"].add(step)
