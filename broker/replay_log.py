"""Reading an event log (a stream) over AMQP 0.9.1, up to an end that a marker makes exact.

RabbitMQ 3.10 tells no client where a stream ends: neither the management API nor
`queue.declare-ok` gives its first or last offset, and a consumer entering past the end just
waits there. So the end is made: `mark_end` consumes the log from `next` (whatever comes after
this moment), writes a marker into it through the marker exchange, and reads its own marker back
(by its unique message id) with the offset the broker gave it. Everything before that offset was
in the log when the replay began; `read` stops there. Markers stay in the log (one per log read,
a few hundred bytes) and every reader skips them: they come through `REPLAY_MARKER_EXCHANGE`,
which only the replay login may write to and only the logs are bound to.

A stream consumer needs a prefetch (`basic.qos`) and manual acks; each delivery carries its
offset in the header `x-stream-offset` (docs/event-log.md says why AMQP rather than the stream
protocol). A stream refuses `basic.reject` and `basic.nack` by closing the whole connection (540
NOT_IMPLEMENTED), and pika's blocking channel rejects, when it cancels a consumer, every delivery
it has not handed out yet: so a consumer here ends by closing its channel (which ends its
consumer on the broker) without that cancel (`_close`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from services.common import topology as t

OFFSET_HEADER = "x-stream-offset"
MARKER_TYPE = "shopflow.replay-marker"  # AMQP `type`; no event type has a hyphen
MARKER_ID_PREFIX = "replay-marker-"
PREFETCH = 500  # deliveries in flight per log; a stream consumer needs a limit
ACK_EVERY = 100


class LogStalled(RuntimeError):
    """The log stopped delivering before its end: the broker is in trouble."""


@dataclass(frozen=True)
class Delivery:
    offset: int
    exchange: str  # the exchange it was published to: an event exchange, or the marker's
    routing_key: str
    properties: pika.BasicProperties
    body: bytes

    @property
    def is_marker(self) -> bool:
        return self.exchange == t.REPLAY_MARKER_EXCHANGE


class EventLog(Protocol):
    """What a replay needs of the event logs (unit tests give a fake)."""

    def mark_end(self, stream: str) -> int:
        """Write a marker into `stream`; return its offset: the exact end of what is there."""
        ...

    def read(self, stream: str, start: int | datetime) -> Iterator[Delivery]:
        """Every message of `stream` from `start` (an offset, or a time: from the first chunk
        stored at or after it), in order, markers included; it never ends by itself."""
        ...


class AmqpEventLog:
    """`EventLog` over one pika connection (the replay login's). Markers and replays are
    published on `publisher`, a channel in confirm mode."""

    def __init__(
        self, connection: BlockingConnection, publisher: BlockingChannel, idle_seconds: float = 30
    ) -> None:
        self._connection = connection
        self._publisher = publisher
        self._idle = idle_seconds

    def mark_end(self, stream: str) -> int:
        marker_id = f"{MARKER_ID_PREFIX}{uuid.uuid4()}"
        found: list[int] = []

        def on_message(ch: BlockingChannel, method: Any, props: Any, _body: bytes) -> None:
            if props.message_id == marker_id:
                found.append(offset_of(props))
            ch.basic_ack(method.delivery_tag)

        channel = self._consumer()
        try:
            # basic.consume returns once the consumer is attached: the marker comes after it.
            channel.basic_consume(stream, on_message, arguments={OFFSET_HEADER: "next"})
            self._publish_marker(stream, marker_id)
            deadline = time.monotonic() + self._idle
            while not found:
                if time.monotonic() > deadline:
                    raise LogStalled(f"{stream}: the replay's marker did not come back")
                self._connection.process_data_events(time_limit=0.2)
        finally:
            self._close(channel)
        return found[0]

    def read(self, stream: str, start: int | datetime) -> Iterator[Delivery]:
        channel = self._consumer()
        unacked = 0
        try:
            for method, props, body in channel.consume(
                stream, arguments={OFFSET_HEADER: start}, inactivity_timeout=self._idle
            ):
                if method is None:
                    raise LogStalled(f"{stream}: nothing delivered for {self._idle:g} s")
                yield Delivery(offset_of(props), method.exchange, method.routing_key, props, body)
                unacked += 1
                if unacked >= ACK_EVERY:  # a stream consumer gets more once it acks
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    unacked = 0
        finally:
            self._close(channel)

    def _consumer(self) -> BlockingChannel:
        channel = self._connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        return channel

    def _close(self, channel: BlockingChannel) -> None:
        """Close a consumer's channel without pika's client-side cancel (see the module's doc):
        pika's own channel, under the blocking one, cancels and closes in one go, and drops
        what still arrives instead of rejecting it."""
        if channel.is_closed:
            return
        underlying = channel._impl  # pika's asynchronous channel
        if underlying.is_open:
            underlying.close()
        while not channel.is_closed:
            self._connection.process_data_events(time_limit=0.1)

    def _publish_marker(self, stream: str, marker_id: str) -> None:
        props = pika.BasicProperties(
            message_id=marker_id,
            type=MARKER_TYPE,
            content_type="text/plain",
            delivery_mode=2,
            timestamp=int(time.time()),
        )
        body = b"the end of a replay's range (python -m broker.replay): not an event, skip it"
        self._publisher.basic_publish(t.REPLAY_MARKER_EXCHANGE, stream, body, props, mandatory=True)


def offset_of(props: Any) -> int:
    return int((props.headers or {})[OFFSET_HEADER])
