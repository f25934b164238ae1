"""A window of publisher confirms on one channel: one broker round trip per window instead of one
per message. The relay's publisher (`pika_publisher.py`) and the bench's broker ceiling
(`bench/amqp.py`) both publish through it.

It uses pika's asynchronous channel through its public calls (`confirm_delivery` with an ack/nack
callback, `add_on_return_callback`, `add_on_close_callback`, `basic_publish`), on an `AmqpLink`
(`amqp_link.py`) whose I/O loop runs in the caller's thread while it waits.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any

import pika
from pika.exceptions import ChannelClosedByBroker

from services.common.outbox.amqp_link import AmqpLink


class Outcome(enum.Enum):
    ACKED = "acked"
    NACKED = "nacked"
    RETURNED = "returned"


class ConfirmTimeout(TimeoutError):
    """Messages were in flight and no confirm arrived for `timeout` seconds."""


class ConfirmWindow:
    """Up to `size` unconfirmed publishes in flight on one channel in confirm mode.

    Delivery tags count the channel's publishes from 1. RabbitMQ sends a mandatory message's
    basic.return before its basic.ack, and a return carries no delivery tag, so returns are
    matched by `message_id`: a message returned and then acked is RETURNED, not ACKED. A return
    whose id matches nothing in flight is charged to the oldest message in flight (a shorter
    confirmed prefix, never a longer one).
    """

    def __init__(
        self,
        link: AmqpLink,
        channel: Any,
        *,
        size: int = 256,
        mandatory: bool = False,
        timeout: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, not {size}")
        self.size = size
        self.mandatory = mandatory
        self.timeout = timeout
        self.sent = 0  # the delivery tag of the last publish
        self._link = link
        self._channel = channel
        self._in_flight: dict[int, str | None] = {}  # tag -> message id, in tag order
        self._tag_of: dict[str, int] = {}
        self._returns: dict[int, str] = {}  # tag -> the broker's reason, until its ack
        self._failures: dict[int, tuple[Outcome, str]] = {}  # settled tags that were not acks
        self._closed: ChannelClosedByBroker | None = None
        self._most = 0  # what `wait` waits for: at most this many in flight
        self._clock = monotonic
        self._last_confirm = 0.0
        channel.add_on_close_callback(self._on_close)
        channel.add_on_return_callback(self._on_return)
        selected: list[Any] = []

        def on_selected(frame: Any) -> None:
            selected.append(frame)
            link.wake()

        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=on_selected)
        if not link.run(lambda: bool(selected) or self._closed is not None, timeout):
            raise ConfirmTimeout(f"confirm mode not acknowledged within {timeout:g}s")
        self._raise_if_closed()

    @classmethod
    def open(
        cls,
        link: AmqpLink,
        *,
        size: int = 256,
        mandatory: bool = False,
        timeout: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> ConfirmWindow:
        """A window on a new channel of `link`."""
        channel = link.channel(timeout)
        return cls(
            link, channel, size=size, mandatory=mandatory, timeout=timeout, monotonic=monotonic
        )

    @property
    def is_open(self) -> bool:
        return self._closed is None and self._link.is_open and bool(self._channel.is_open)

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

        Raises ChannelClosedByBroker, the connection's error (pika's AMQPError kinds), or
        ConfirmTimeout when no confirm arrived for `timeout` seconds while waiting.
        """
        self._raise_if_closed()
        if len(self._in_flight) <= most:
            return
        self._most = most
        self._last_confirm = self._clock()
        while True:
            remaining = self._last_confirm + self.timeout - self._clock()
            if remaining <= 0:
                raise ConfirmTimeout(
                    f"{len(self._in_flight)} message(s) unconfirmed after {self.timeout:g}s"
                )
            settled = self._link.run(self._settled, remaining)
            self._raise_if_closed()
            if settled:
                return

    def _settled(self) -> bool:
        return len(self._in_flight) <= self._most or self._closed is not None

    def _raise_if_closed(self) -> None:
        if self._closed is not None:
            raise self._closed
        if self._link.error is not None:
            raise self._link.error

    # -- callbacks, run by pika inside AmqpLink.run ----------------------------------------------

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
        if tags:
            self._last_confirm = self._clock()
            self._link.wake()

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        tag = self._tag_of.get(properties.message_id) if properties.message_id else None
        if tag is None and self._in_flight:
            tag = next(iter(self._in_flight))
        if tag is not None:
            self._returns[tag] = f"{method.reply_code} {method.reply_text}"

    def _on_close(self, _channel: Any, reason: Exception) -> None:
        if isinstance(reason, ChannelClosedByBroker):
            self._closed = reason
            self._link.wake()
        # A connection loss closes the channel too; the link keeps that error.
