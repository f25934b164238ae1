"""Publishing with a window of publisher confirms, over pika's BlockingConnection.

`ConfirmWindow` keeps up to `size` unconfirmed messages in flight on one confirm-mode channel:
one broker round trip per window instead of one per message. `PikaPublisher` is the relay's
publisher built on it; the bench's broker ceiling uses the same window (`bench/amqp.py`).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPError, ChannelClosedByBroker

from services.common.outbox.publisher import (
    BatchFailure,
    BatchResult,
    BrokerUnavailable,
    PublishFailed,
    PublishRejected,
)
from services.common.outbox.store import OutboundMessage

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
PERSISTENT = 2


def connection_parameters(
    url: str, *, timeout: float = 5.0, heartbeat: int = 30, name: str | None = None
) -> pika.URLParameters:
    """Parameters for `url` that fail fast: one attempt, bounded socket and blocked timeouts."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout * 2
    params.blocked_connection_timeout = max(timeout * 6, 30.0)
    params.heartbeat = heartbeat
    if name is not None:
        params.client_properties = {"connection_name": name}
    return params


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"


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
        self.acked = 0
        self.nacked = 0
        self.returned = 0
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
    def in_flight(self) -> int:
        return len(self._in_flight)

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
                self.nacked += 1
                self._failures[tag] = (Outcome.NACKED, "nacked by the broker")
            elif returned is not None:
                self.returned += 1
                self._failures[tag] = (Outcome.RETURNED, returned)
            else:
                self.acked += 1
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


def settle(
    sent: list[tuple[OutboundMessage, int]],
    window: ConfirmWindow | None,
    error: PublishFailed | None,
    unsent: OutboundMessage | None = None,
) -> BatchResult:
    """The longest acked-and-not-returned prefix of `sent` ((message, tag) in publish order), and
    the first failure: the message that broke the prefix, else `unsent` (the message we were
    about to publish when `error` happened)."""
    confirmed: list[int] = []
    for message, tag in sent:
        outcome = window.outcome(tag) if window is not None else None
        if outcome is None:
            failure = error or BrokerUnavailable("no confirm from the broker")
            return BatchResult(tuple(confirmed), BatchFailure(message, failure))
        kind, reason = outcome
        if kind is Outcome.NACKED:
            return BatchResult(tuple(confirmed), BatchFailure(message, PublishRejected(reason)))
        if kind is Outcome.RETURNED:
            return BatchResult(
                tuple(confirmed),
                BatchFailure(
                    message,
                    PublishRejected(
                        f"unroutable: returned by the broker ({reason}; no queue for routing key "
                        f"{message.event_type!r})"
                    ),
                ),
            )
        confirmed.append(message.row_id)
    if error is not None and unsent is not None:
        return BatchResult(tuple(confirmed), BatchFailure(unsent, error))
    return BatchResult(tuple(confirmed))


class PikaPublisher:
    """Publishes outbox messages to one exchange, `window` confirms in flight at a time.

    Every message is `mandatory` and persistent; the routing key is the event type. A batch stops
    sending at the first nack or return it sees, then waits for what is in flight, so that the
    result's confirmed prefix is exact.
    """

    def __init__(
        self,
        url: str,
        exchange: str,
        *,
        timeout: float = 5.0,
        heartbeat: int = 30,
        window: int = 256,
        confirm_timeout: float = 30.0,
        name: str | None = None,
    ) -> None:
        self._params = connection_parameters(url, timeout=timeout, heartbeat=heartbeat, name=name)
        self._exchange = exchange
        self._window_size = window
        self._confirm_timeout = confirm_timeout
        self._connection: BlockingConnection | None = None
        self._window: ConfirmWindow | None = None

    def _open_window(self) -> ConfirmWindow:
        connected = self._connection is not None and self._connection.is_open
        if self._window is not None and self._window.is_open and connected:
            return self._window
        self._window = None  # e.g. the broker closed the channel while we were idle
        if self._connection is None or not self._connection.is_open:
            self.close()
            self._connection = pika.BlockingConnection(self._params)
            log.info("connected to the broker at %s:%s", self._params.host, self._params.port)
        self._window = ConfirmWindow(
            self._connection,
            self._connection.channel(),
            size=self._window_size,
            mandatory=True,
            timeout=self._confirm_timeout,
        )
        return self._window

    def _properties(self, message: OutboundMessage) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=PERSISTENT,
            message_id=message.event_id,
            type=message.event_type,
            correlation_id=message.correlation_id,
            headers={"correlation_id": message.correlation_id},
        )

    def publish_batch(self, messages: Iterable[OutboundMessage]) -> BatchResult:
        sent: list[tuple[OutboundMessage, int]] = []
        unsent: OutboundMessage | None = None
        window: ConfirmWindow | None = None
        error: PublishFailed | None = None
        following = iter(messages)
        try:
            while True:
                if window is not None:
                    # Room first, then the next message: it is taken just before its publish.
                    window.wait(window.size - 1)
                    if window.failed:
                        break  # a nack or a return: what follows would be republished anyway
                message = next(following, None)
                if message is None:
                    break
                unsent = message
                if window is None:
                    window = self._open_window()
                    window.forget()  # nothing is in flight between batches
                tag = window.publish(
                    self._exchange, message.event_type, message.body, self._properties(message)
                )
                sent.append((message, tag))
                unsent = None
            if window is not None:
                window.wait()
        except ChannelClosedByBroker as exc:
            self._window = None  # the connection stays; the next batch opens a channel
            error = PublishRejected(
                f"channel closed by the broker: {exc.reply_code} {exc.reply_text}"
            )
        except ConfirmTimeout as exc:  # before OSError, which it is
            self.close()
            error = BrokerUnavailable(f"no confirm from the broker: {exc}")
        except (AMQPError, OSError) as exc:
            self.close()
            error = BrokerUnavailable(describe(exc))
        result = settle(sent, window, error, unsent)
        if error is not None and result.failure is None:
            # Everything sent was acked, then the channel or connection failed: the error
            # belongs to the message that would have gone next.
            message = next(following, None)
            if message is not None:
                result = BatchResult(result.confirmed, BatchFailure(message, error))
        return result

    def idle(self) -> None:
        if self._connection is None or not self._connection.is_open:
            return
        try:
            self._connection.process_data_events(0)
        except (AMQPError, OSError) as exc:
            log.warning("broker connection lost while idle (%s); reconnecting on demand", exc)
            self.close()

    def close(self) -> None:
        connection, self._connection, self._window = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError) as exc:
                log.debug("ignoring error while closing the broker connection: %s", exc)
