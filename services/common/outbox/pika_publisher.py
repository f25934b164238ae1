"""The relay's publisher: outbox messages to one exchange through a `ConfirmWindow`
(`confirm_window.py`) on an `AmqpLink` (`amqp_link.py`, pika's asynchronous adapter)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import pika
from pika.exceptions import AMQPError, ChannelClosedByBroker

from services.common.outbox.amqp_link import AmqpLink
from services.common.outbox.confirm_window import ConfirmTimeout, ConfirmWindow, Outcome
from services.common.outbox.publisher import (
    BatchFailure,
    BatchResult,
    BrokerUnavailable,
    PublishFailed,
    PublishRejected,
)
from services.common.outbox.store import OutboundMessage
from services.common.outbox.telemetry import PassTelemetry

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
PERSISTENT = 2
# While idle, the broker's frames (heartbeats, a close) are read at least this often; far more
# often than any heartbeat interval needs.
IDLE_IO_INTERVAL = 1.0


def connection_parameters(
    urls: Sequence[str], *, timeout: float = 5.0, heartbeat: int = 30, name: str | None = None
) -> list[pika.URLParameters]:
    """Parameters for each node's URL that fail fast: one attempt per node, bounded socket and
    blocked timeouts. `AmqpLink.connect(list)` and `pika.BlockingConnection(list)` try the nodes
    in turn, so a client whose node is gone reconnects to another one (`BROKER_NODES`)."""
    return [_node_parameters(url, timeout, heartbeat, name) for url in urls]


def _node_parameters(
    url: str, timeout: float, heartbeat: int, name: str | None
) -> pika.URLParameters:
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


def settle(
    sent: list[tuple[OutboundMessage, int]],
    window: ConfirmWindow | None,
    error: PublishFailed | None,
    unsent: OutboundMessage | None = None,
) -> BatchResult:
    """The longest acked-and-not-returned prefix of `sent` ((message, tag) in publish order), and
    the first failure: the message that broke the prefix, else `unsent` (the message that was
    about to go, or would have gone next, when `error` happened)."""
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
        urls: Sequence[str],
        exchange: str,
        *,
        timeout: float = 5.0,
        heartbeat: int = 30,
        window: int = 256,
        confirm_timeout: float = 30.0,
        name: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._params = connection_parameters(urls, timeout=timeout, heartbeat=heartbeat, name=name)
        self._exchange = exchange
        self._window_size = window
        self._confirm_timeout = confirm_timeout
        self._link: AmqpLink | None = None
        self._window: ConfirmWindow | None = None
        self._clock = monotonic
        self._last_io = 0.0

    def _open_window(self) -> ConfirmWindow:
        connected = self._link is not None and self._link.is_open
        if self._window is not None and self._window.is_open and connected:
            return self._window
        self._window = None  # e.g. the broker closed the channel while we were idle
        if self._link is None or not self._link.is_open:
            self.close()
            self._link = AmqpLink.connect(self._params)
            node = self._link.node  # the node that answered
            log.info("connected to the broker at %s:%s", node.host, node.port)
        self._window = ConfirmWindow.open(
            self._link,
            size=self._window_size,
            mandatory=True,
            timeout=self._confirm_timeout,
            monotonic=self._clock,
        )
        return self._window

    def _properties(
        self, message: OutboundMessage, trace_headers: dict[str, str]
    ) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=PERSISTENT,
            message_id=message.event_id,
            type=message.event_type,
            correlation_id=message.correlation_id,
            priority=message.priority,  # None: no priority, the normal lane (docs/priorities.md)
            # `traceparent` (W3C trace context): the trace of the transaction that wrote the row.
            headers={"correlation_id": message.correlation_id, **trace_headers},
        )

    def publish_batch(self, messages: Iterable[OutboundMessage]) -> BatchResult:
        sent: list[tuple[OutboundMessage, int]] = []
        unsent: OutboundMessage | None = None
        window: ConfirmWindow | None = None
        error: PublishFailed | None = None
        telemetry = PassTelemetry(self._exchange)
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
                properties = self._properties(message, telemetry.headers(message))
                tag = window.publish(self._exchange, message.event_type, message.body, properties)
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
        if error is not None and unsent is None:
            # It failed between two publishes (waiting for room or for the last confirms): if
            # everything sent was acked, the error belongs to the message that would go next.
            unsent = next(following, None)
        result = settle(sent, window, error, unsent)
        telemetry.finish(result)
        self._last_io = self._clock()
        return result

    def idle(self) -> None:
        """Handle what the broker sent since the last batch (heartbeats, a channel or connection
        closed), unless the last batch was less than a second ago: the relay calls this after
        every pass, and a batch has just done the same."""
        if self._link is None or self._clock() - self._last_io < IDLE_IO_INTERVAL:
            return
        self._last_io = self._clock()
        try:
            self._link.process_ready()
        except (AMQPError, OSError) as exc:
            log.warning("broker connection lost while idle (%s); reconnecting on demand", exc)
            self.close()
            return
        if self._link.error is not None:
            log.warning(
                "broker connection lost while idle (%s); reconnecting on demand",
                describe(self._link.error),
            )
            self.close()

    def close(self) -> None:
        link, self._link, self._window = self._link, None, None
        if link is not None:
            try:
                link.close()
            except (AMQPError, OSError) as exc:
                log.debug("ignoring error while closing the broker connection: %s", exc)
