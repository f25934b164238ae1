"""The event ingress: how raw events from a service's event queue become Celery tasks.

Raw events never reach Celery's own task consumer, because Celery *acks and drops* a message it
cannot decode as a task. Instead this `ConsumerStep`, running inside the worker, reads the event
queue on its own channel and, for each message:

1. checks the content type is `application/json`;
2. validates the envelope and payload against the contract (`parse_event`);
3. publishes a task with the envelope to the service's private task queue and waits for the
   broker's publisher confirm;
4. only then acks the event.

Anything that fails 1 or 2 is rejected with `requeue=False`, so the queue's dead-letter policy
moves it into `<queue>.dlq` (its `x-death` header says `rejected`), and the reason is logged
with the message id. A failed hand-off (3) leaves the event unacked and requeues it: it is never
lost, at worst handed off twice, which the handlers' inbox makes harmless.

The step uses the worker's own connection (the service's user) and declares nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from celery import Celery, bootsteps
from kombu import Consumer, Queue
from kombu.message import Message

from services.common.events import InvalidEvent, parse_event

logger = logging.getLogger("shopflow.ingress")

JSON = "application/json"


class EventIngress(bootsteps.ConsumerStep):
    """Configured through class attributes set by `install_event_ingress`."""

    queue_name: str = ""
    routes: Mapping[str, str] = {}
    prefetch: int = 32

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.app: Celery = parent.app

    def get_consumers(self, channel: Any) -> list[Consumer]:
        channel.basic_qos(prefetch_size=0, prefetch_count=self.prefetch, a_global=False)
        queue = Queue(self.queue_name, no_declare=True)
        return [Consumer(channel, queues=[queue], on_message=self.on_message, no_ack=False)]

    def on_message(self, message: Message) -> None:
        message_id = message.properties.get("message_id")
        content_type = message.content_type
        if content_type != JSON:
            self._reject(message, message_id, f"content type {content_type!r} is not {JSON}")
            return
        try:
            event = parse_event(message.body or b"", accept=set(self.routes))
        except InvalidEvent as exc:
            self._reject(message, message_id, exc.reason)
            return
        task_name = self.routes[event.type]
        try:
            self.app.send_task(
                task_name,
                args=[event.to_dict()],
                task_id=f"{event.type}:{event.id}",
                headers={"correlation_id": event.correlationid},
            )
        except Exception:
            # Not confirmed: keep the event. It comes back to this or another worker.
            logger.exception(
                "hand-off of event %s (%s) to %s failed; requeued",
                event.id,
                event.type,
                task_name,
            )
            message.requeue()
            return
        message.ack()
        logger.info(
            "event %s %s correlation=%s -> task %s",
            event.type,
            event.id,
            event.correlationid,
            task_name,
        )

    def _reject(self, message: Message, message_id: str | None, reason: str) -> None:
        logger.warning(
            "rejected message %s from %s (dead-lettered): %s",
            message_id or "(no message_id)",
            self.queue_name,
            reason,
        )
        message.reject(requeue=False)


def install_event_ingress(
    app: Celery, *, queue: str, routes: Mapping[str, str], prefetch: int = 32
) -> None:
    """Add the ingress step for `queue` to `app`'s worker, routing event types to task names."""
    step = type(
        "EventIngress_" + queue.replace(".", "_"),
        (EventIngress,),
        {"queue_name": queue, "routes": dict(routes), "prefetch": prefetch},
    )
    app.steps["consumer"].add(step)
