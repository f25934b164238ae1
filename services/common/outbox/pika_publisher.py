"""A publisher with confirms and `mandatory`, over pika's BlockingConnection."""

from __future__ import annotations

import logging

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import (
    AMQPError,
    ChannelClosedByBroker,
    NackError,
    UnroutableError,
)

from services.common.outbox.publisher import BrokerUnavailable, PublishRejected
from services.common.outbox.store import OutboundMessage

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
PERSISTENT = 2


def connection_parameters(
    url: str, *, timeout: float = 5.0, heartbeat: int = 30
) -> pika.URLParameters:
    """Parameters for `url` that fail fast: one attempt, bounded socket and blocked timeouts."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout * 2
    params.blocked_connection_timeout = max(timeout * 6, 30.0)
    params.heartbeat = heartbeat
    return params


def describe(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"


class PikaPublisher:
    """Publishes outbox messages to one exchange, one confirm at a time.

    `basic_publish` on a channel in confirm mode blocks until the broker acks, nacks or returns
    the message, so "returned without error" means "confirmed". The routing key is the event type.
    """

    def __init__(
        self, url: str, exchange: str, *, timeout: float = 5.0, heartbeat: int = 30
    ) -> None:
        self._params = connection_parameters(url, timeout=timeout, heartbeat=heartbeat)
        self._exchange = exchange
        self._connection: BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _open_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        if self._connection is None or not self._connection.is_open:
            self.close()
            self._connection = pika.BlockingConnection(self._params)
            log.info("connected to the broker at %s:%s", self._params.host, self._params.port)
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        return self._channel

    def publish(self, message: OutboundMessage) -> None:
        try:
            channel = self._open_channel()
            channel.basic_publish(
                self._exchange,
                message.event_type,
                message.body,
                pika.BasicProperties(
                    content_type=CONTENT_TYPE,
                    delivery_mode=PERSISTENT,
                    message_id=message.event_id,
                    type=message.event_type,
                    correlation_id=message.correlation_id,
                    headers={"correlation_id": message.correlation_id},
                ),
                mandatory=True,
            )
        except UnroutableError as exc:
            raise PublishRejected(
                f"unroutable: returned by the broker (no queue for routing key "
                f"{message.event_type!r} on exchange {self._exchange!r}): {exc}"
            ) from exc
        except NackError as exc:
            raise PublishRejected(f"nacked by the broker: {exc}") from exc
        except ChannelClosedByBroker as exc:
            self._channel = None
            raise PublishRejected(
                f"channel closed by the broker: {exc.reply_code} {exc.reply_text}"
            ) from exc
        except (AMQPError, OSError) as exc:
            self.close()
            raise BrokerUnavailable(describe(exc)) from exc

    def idle(self) -> None:
        if self._connection is None or not self._connection.is_open:
            return
        try:
            self._connection.process_data_events(0)
        except (AMQPError, OSError) as exc:
            log.warning("broker connection lost while idle (%s); reconnecting on demand", exc)
            self.close()

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (AMQPError, OSError) as exc:
                log.debug("ignoring error while closing the broker connection: %s", exc)
