"""Putting a first attempt's retry on the service's private task queue, confirmed.

The event is acked only after this publish is confirmed, so it must not go missing silently: it is
`mandatory` (a missing binding comes back as a return, not as a quiet confirm) and waits for the
broker's publisher confirm, on a connection of its own that the pool's threads share under a lock
(retries are rare; the happy path never publishes). `retry=False`: kombu's own retry would
reconnect and wait for another confirm timeout up to four times; one failure already has its
answer (the event is requeued and comes back), so one timeout is the longest a pool thread waits.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Producer
from kombu.message import Message

from services.common.events import Envelope


class RetryNotPublished(Exception):
    """The broker did not take the retry (returned as unroutable, nacked, or no confirm)."""


class RetryPublisher:
    def __init__(self, app: Celery, confirm_timeout: float) -> None:
        self._app = app
        self._confirm_timeout = confirm_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._returned: list[str] = []

    def publish(
        self, task_name: str, event: Envelope[Any], countdown: float, priority: int | None = None
    ) -> None:
        """The first retry of `event` as task `task_name`, due in `countdown` seconds, carrying
        the event's AMQP `priority` (the task queue has no lanes: it is only passed on)."""
        with self._lock:
            self._returned.clear()
            try:
                self._app.send_task(
                    task_name,
                    args=[event.to_dict()],
                    task_id=f"{event.type}:{event.id}",
                    countdown=countdown,
                    retries=1,
                    # What Flower and the logs show for the argument: Celery's default is a
                    # `saferepr` of the whole envelope.
                    argsrepr=f"[{event.type} {event.id} correlation={event.correlationid}]",
                    kwargsrepr="{}",
                    headers={"correlation_id": event.correlationid},
                    producer=self._get_producer(),
                    mandatory=True,
                    confirm_timeout=self._confirm_timeout,
                    retry=False,
                    priority=priority,
                )
            except Exception as exc:
                self._drop()
                raise RetryNotPublished(f"{type(exc).__name__}: {exc}") from exc
            if self._returned:
                raise RetryNotPublished("; ".join(self._returned))

    def _get_producer(self) -> Producer:
        if self._producer is None:
            # No heartbeat: nothing would drive it on this connection between retries, and the
            # broker would close it after two idle intervals. A dead connection shows up as a
            # failed publish instead, and the next retry opens a new one.
            connection = self._app.connection_for_write(heartbeat=0)
            # One attempt per node of BROKER_NODES (kombu alternates between them).
            connection.ensure_connection(max_retries=max(1, len(connection.alt) - 1))
            self._connection = connection
            self._producer = Producer(connection.channel(), on_return=self._on_return)
        return self._producer

    def _on_return(
        self, exc: Exception, exchange: Exchange | str, routing_key: str, _msg: Message
    ) -> None:
        self._returned.append(f"returned by the broker: {exc} ({exchange!r} / {routing_key!r})")

    def _drop(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            with suppress(Exception):
                connection.release()

    def close(self) -> None:
        with self._lock:
            self._drop()
