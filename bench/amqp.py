"""Raw pika clients: the broker's own ceiling, and the bench's fast backlog filler.

`WindowedPublisher` keeps up to `window` unconfirmed messages in flight on one channel in
confirm mode and counts the broker's (possibly `multiple`) acks, which is how a publisher gets
near the broker's ceiling. pika's BlockingChannel only offers one-confirm-at-a-time publishing, so
the window is driven on the channel's underlying asynchronous implementation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingConnection

PERSISTENT = 2
Message = tuple[str, bytes, pika.BasicProperties]  # routing key, body, properties


class WindowedPublisher:
    def __init__(self, params: pika.ConnectionParameters, exchange: str, window: int = 256):
        self.connection = BlockingConnection(params)
        self.channel = self.connection.channel()
        self.exchange = exchange
        self.window = window
        self.sent = 0
        self.acked = 0
        self.nacked = 0
        self.channel._impl.confirm_delivery(ack_nack_callback=self._on_confirm)
        self.connection.process_data_events(0)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        count = tag - self.acked - self.nacked if method.multiple else 1
        if isinstance(method, pika.spec.Basic.Ack):
            self.acked += count
        else:
            self.nacked += count

    def _pending(self) -> int:
        return self.sent - self.acked - self.nacked

    def publish(self, routing_key: str, body: bytes, props: pika.BasicProperties) -> None:
        while self._pending() >= self.window:
            self.connection.process_data_events(0.01)
        self.channel._impl.basic_publish(self.exchange, routing_key, body, props)
        self.sent += 1

    def wait_confirms(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self._pending() and time.monotonic() < deadline:
            self.connection.process_data_events(0.01)
        if self._pending():
            raise TimeoutError(f"{self._pending()} publishes not confirmed")
        if self.nacked:
            raise RuntimeError(f"{self.nacked} publishes nacked")

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


def publish_windowed(
    params: pika.ConnectionParameters, exchange: str, messages: Iterable[Message], window: int = 256
) -> tuple[int, float]:
    """Publish everything with a confirm window; (count, seconds until the last confirm)."""
    pub = WindowedPublisher(params, exchange, window)
    try:
        start = time.perf_counter()
        for key, body, props in messages:
            pub.publish(key, body, props)
        pub.wait_confirms()
        return pub.sent, time.perf_counter() - start
    finally:
        pub.close()


def publish_one_by_one(
    params: pika.ConnectionParameters, exchange: str, messages: Iterable[Message]
) -> list[float]:
    """Publish waiting for each confirm (what the relay does); the latency of each, in seconds."""
    conn = BlockingConnection(params)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        latencies = []
        for key, body, props in messages:
            start = time.perf_counter()
            ch.basic_publish(exchange, key, body, props, mandatory=True)
            latencies.append(time.perf_counter() - start)
        return latencies
    finally:
        conn.close()


def consume(
    params: pika.ConnectionParameters,
    queue: str,
    count: int,
    prefetch: int = 100,
    on_message: Callable[[Any, bytes], None] | None = None,
) -> float:
    """Consume `count` messages with a manual ack each; seconds from first delivery to last ack."""
    conn = BlockingConnection(params)
    try:
        ch = conn.channel()
        ch.basic_qos(prefetch_count=prefetch)
        first = 0.0
        deliveries = ch.consume(queue, auto_ack=False, inactivity_timeout=30)
        for seen, (method, props, body) in enumerate(deliveries, start=1):
            if method is None:
                raise TimeoutError(f"{queue}: only {seen - 1} of {count} messages arrived")
            if seen == 1:
                first = time.perf_counter()
            if on_message is not None:
                on_message(props, body)
            ch.basic_ack(method.delivery_tag)
            if seen >= count:
                break
        elapsed = time.perf_counter() - first
        ch.cancel()
        return elapsed
    finally:
        conn.close()


def persistent(
    message_id: str, type_: str, content_type: str = "application/json"
) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=PERSISTENT,
        message_id=message_id,
        type=type_,
        headers={"correlation_id": message_id},
    )
