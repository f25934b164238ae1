"""A window of publisher confirms on one pika channel: one broker round trip per window instead
of one per message. The relay's publisher (`pika_publisher.py`) and the bench's broker ceiling
(`bench/amqp.py`) both publish through it.
"""

from __future__ import annotations

import enum
import time
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import ChannelClosedByBroker


class Outcome(enum.Enum):
    ACKED = "acked"
    NACKED = "nacked"
    RETURNED = "returned"


class ConfirmTimeout(TimeoutError):
    """Messages were in flight and no confirm arrived for `timeout` seconds."""


class ConfirmWindow:
    """Up to `size` unconfirmed publishes in flight on one channel in confirm mode.

    pika's BlockingChannel only publishes one confirm at a time, so the window drives the
    channel's underlying asynchronous implementation (its ack/nack, return and close callbacks)
    while the BlockingConnection does the I/O; a zero-delay timer set from the ack callback ends
    each `process_data_events` as soon as a confirm arrives, instead of at its time limit.

    Delivery tags count the channel's publishes from 1. RabbitMQ sends a mandatory message's
    basic.return before its basic.ack, and a return carries no delivery tag, so returns are
    matched by `message_id`: a message returned and then acked is RETURNED, not ACKED. A return
    whose id matches nothing in flight is charged to the oldest message in flight (a shorter
    confirmed prefix, never a longer one).
    """

    def __init__(
        self,
        connection: BlockingConnection,
        channel: BlockingChannel,
        *,
        size: int = 256,
        mandatory: bool = False,
        timeout: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, not {size}")
        self.size = size
        self.mandatory = mandatory
        self.timeout = timeout
        self.sent = 0  # the delivery tag of the last publish
        self._connection = connection
        self._channel = channel._impl
        self._in_flight: dict[int, str | None] = {}  # tag -> message id, in tag order
        self._tag_of: dict[str, int] = {}
        self._returns: dict[int, str] = {}  # tag -> the broker's reason, until its ack
        self._failures: dict[int, tuple[Outcome, str]] = {}  # settled tags that were not acks
        self._closed: ChannelClosedByBroker | None = None
        self._wake_pending = False
        self._channel.add_on_close_callback(self._on_close)
        self._channel.add_on_return_callback(self._on_return)
        self._channel.confirm_delivery(ack_nack_callback=self._on_confirm)

    @property
    def is_open(self) -> bool:
        return self._closed is None and bool(self._channel.is_open)

    @property
    def failed(self) -> bool:
        """Has a message been nacked or returned since `forget`?"""
        return bool(self._failures)

    def outcome(self, tag: int) -> tuple[Outcome, str] | None:
        """ACKED, or NACKED/RETURNED with the broker's reason; None while unconfirmed."""
        if tag in self._in_flight or not 0 < tag <= self.sent:
            return None
        return self._failures.get(tag, (Outcome.ACKED, ""))

    def forget(self) -> None:
        """Drop what is remembered about settled failures (call with nothing in flight)."""
        self._failures.clear()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties,
    ) -> int:
        """Send one message once the window has room; returns its delivery tag."""
        self.wait(self.size - 1)
        self._channel.basic_publish(
            exchange, routing_key, body, properties, mandatory=self.mandatory
        )
        self.sent += 1
        self._in_flight[self.sent] = properties.message_id
        if properties.message_id is not None:
            self._tag_of[properties.message_id] = self.sent
        return self.sent

    def wait(self, most: int = 0) -> None:
        """Process I/O until at most `most` messages are unconfirmed.

        Raises ChannelClosedByBroker, pika's connection errors, or ConfirmTimeout when no confirm
        arrived for `timeout` seconds while waiting.
        """
        self._raise_if_closed()
        if len(self._in_flight) <= most:
            return
        deadline = time.monotonic() + self.timeout
        while len(self._in_flight) > most:
            before = len(self._in_flight)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConfirmTimeout(
                    f"{len(self._in_flight)} message(s) unconfirmed after {self.timeout:g}s"
                )
            self._connection.process_data_events(remaining)
            self._raise_if_closed()
            if len(self._in_flight) < before:
                deadline = time.monotonic() + self.timeout

    def _raise_if_closed(self) -> None:
        if self._closed is not None:
            raise self._closed

    # -- callbacks, run by pika inside process_data_events ----------------------------------------

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        nack = isinstance(method, pika.spec.Basic.Nack)
        last = method.delivery_tag
        if method.multiple:
            tags = []
            for tag in self._in_flight:  # in tag order
                if tag > last:
                    break
                tags.append(tag)
        else:
            tags = [last] if last in self._in_flight else []
        for tag in tags:
            message_id = self._in_flight.pop(tag)
            if message_id is not None and self._tag_of.get(message_id) == tag:
                del self._tag_of[message_id]
            returned = self._returns.pop(tag, None)
            if nack:
                self._failures[tag] = (Outcome.NACKED, "nacked by the broker")
            elif returned is not None:
                self._failures[tag] = (Outcome.RETURNED, returned)
        if not self._wake_pending:
            self._wake_pending = True
            self._connection.call_later(0, self._woken)

    def _woken(self) -> None:
        self._wake_pending = False

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        tag = self._tag_of.get(properties.message_id) if properties.message_id else None
        if tag is None and self._in_flight:
            tag = next(iter(self._in_flight))
        if tag is not None:
            self._returns[tag] = f"{method.reply_code} {method.reply_text}"

    def _on_close(self, _channel: Any, reason: Exception) -> None:
        if isinstance(reason, ChannelClosedByBroker):
            self._closed = reason
        # A connection loss closes the channel too; process_data_events raises that error.
