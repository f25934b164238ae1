"""The bridge: the order events the pages need, from RabbitMQ into the hub, in a thread of its own.

One per API process, started by the app's lifespan (nothing connects at import). It logs in as
`<vhost>-storefront`, declares a server-named, exclusive, auto-delete queue (RabbitMQ names it,
it belongs to this connection and disappears with it, so a crashed process leaves nothing
behind), binds it to `LIVE_EXCHANGE` with `LIVE_ROUTING_KEYS` only, and consumes it. Each event
only says "this order changed" (the streams read the steps from the database), so messages are
auto-acked: one lost with the connection is caught up by the read that follows `subscribed`.

When the broker goes away the bridge tells the hub, waits (`equal_jitter`, like every retry in
the system) and subscribes again.

Of each message it reads only `type` and `data.order_id` (`order_of`), not the whole event
against its contract: every API process receives every outcome event, most of them for orders no
page of its own is watching, and the id only picks which streams to wake, which then read the
database. Validating each event in full (the e-mail address, the lines, the money) was most of
what the bridge cost. A message without a usable order id is ignored and logged, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPConnectionError, AMQPError

from services.common.backoff import equal_jitter
from services.common.outbox.pika_publisher import connection_parameters, describe
from services.common.topology import LIVE_EXCHANGE, LIVE_ROUTING_KEYS
from services.orders.live.hub import Hub

log = logging.getLogger("shopflow.orders.live")


class LiveBridge:
    def __init__(
        self,
        broker_urls: list[str],
        hub: Hub,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout: float = 5.0,
        backoff: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        self._urls = broker_urls
        self._hub = hub
        self._loop = loop
        self._timeout = timeout
        self._backoff_base, self._backoff_cap = backoff
        self._stopping = threading.Event()
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._failures = 0  # in a row, since the last time the queue was consumed
        self._thread = threading.Thread(target=self._run, name="live-bridge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming and close the connection (the broker deletes the queue)."""
        self._stopping.set()
        connection, channel = self._connection, self._channel
        if connection is not None and channel is not None:
            # pika's one thread-safe call: the consuming thread runs stop_consuming itself.
            with contextlib.suppress(AMQPError, RuntimeError):
                connection.add_callback_threadsafe(channel.stop_consuming)
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._consume()
            except (AMQPError, OSError) as exc:
                why = _why(exc)
                self._post(self._hub.unsubscribed, why)
                if self._failures == 0:
                    log.warning("live updates paused, %s", why)
                self._failures += 1
            if not self._stopping.is_set():
                wait = equal_jitter(self._failures, base=self._backoff_base, cap=self._backoff_cap)
                self._stopping.wait(wait)

    def _consume(self) -> None:
        """One connection's life: subscribe, report it, consume until closed or stopped."""
        params = connection_parameters(self._urls, timeout=self._timeout, name="orders-api live")
        connection = pika.BlockingConnection(params)
        self._connection = connection
        try:
            channel = self._channel = connection.channel()
            queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            for key in LIVE_ROUTING_KEYS:
                channel.queue_bind(queue, LIVE_EXCHANGE, key)
            channel.basic_consume(queue, self._deliver, auto_ack=True)
            if self._stopping.is_set():
                return
            log.info("live updates: consuming %s from %s", ", ".join(LIVE_ROUTING_KEYS), queue)
            self._failures = 0
            self._post(self._hub.subscribed)
            channel.start_consuming()
        finally:
            self._connection = self._channel = None
            if connection.is_open:
                with contextlib.suppress(AMQPError, OSError):
                    connection.close()
        if not self._stopping.is_set():
            raise AMQPError("consuming stopped")  # the broker cancelled us: subscribe again

    def _deliver(
        self, _channel: BlockingChannel, _method: Any, _properties: Any, body: bytes
    ) -> None:
        order_id = order_of(body)
        if order_id is None:
            log.warning("live updates: ignored a message that is not an order event: %.200r", body)
            return
        self._post(self._hub.changed, order_id)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        """Run `callback` on the event loop (the hub is not thread-safe)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the app is shutting down
            self._loop.call_soon_threadsafe(callback, *args)


def order_of(body: bytes) -> str | None:
    """The order id of an event the bridge binds (`LIVE_ROUTING_KEYS`), or None for anything
    else: not JSON, not an object, another type, no `data.order_id` string."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8 text, or nested too deeply
        return None
    if not isinstance(doc, dict) or doc.get("type") not in LIVE_ROUTING_KEYS:
        return None
    data = doc.get("data")
    order_id = data.get("order_id") if isinstance(data, dict) else None
    return order_id if isinstance(order_id, str) and order_id else None


def _why(exc: BaseException) -> str:
    """What /ready says while the bridge cannot consume."""
    if isinstance(exc, AMQPConnectionError | OSError):
        return f"broker unreachable: {describe(exc)}"[:500]
    return f"live updates failed: {describe(exc)}"[:500]
