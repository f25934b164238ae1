"""Raw pika clients: the broker's own ceiling, and the bench's fast backlog filler.

`WindowedPublisher` keeps up to `window` unconfirmed messages in flight on one channel in
confirm mode, which is how a publisher gets near the broker's ceiling. The window is the relay's
own (`ConfirmWindow`, services/common/outbox/confirm_window.py), so the ceiling and the relay
publish the same way; here without `mandatory`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingConnection

from services.common.outbox.amqp_link import AmqpLink
from services.common.outbox.confirm_window import ConfirmWindow

PERSISTENT = 2
Message = tuple[str, bytes, pika.BasicProperties]  # routing key, body, properties


class WindowedPublisher:
    def __init__(
        self,
        params: pika.ConnectionParameters,
        exchange: str,
        window: int = 256,
        timeout: float = 60.0,
    ):
        self.link = AmqpLink.connect([params])
        self.exchange = exchange
        self.confirms = ConfirmWindow.open(self.link, size=window, timeout=timeout)

    @property
    def sent(self) -> int:
        return self.confirms.sent

    def publish(self, routing_key: str, body: bytes, props: pika.BasicProperties) -> None:
        self.confirms.publish(self.exchange, routing_key, body, props)

    def wait_confirms(self) -> None:
        """Until every publish is confirmed; TimeoutError if none arrives for `timeout` s."""
        self.confirms.wait()
        if self.confirms.failed:
            raise RuntimeError("the broker nacked some publishes")

    def close(self) -> None:
        self.link.close()


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
