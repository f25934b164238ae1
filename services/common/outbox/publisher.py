"""What the relay needs from a broker client, and how a publish can fail."""

from __future__ import annotations

from typing import Protocol

from services.common.outbox.store import OutboundMessage


class PublishFailed(Exception):
    """The broker did not take the message. The row stays pending and the relay retries."""


class PublishRejected(PublishFailed):
    """The broker answered, but not with a confirm: a nack, a return (unroutable), a refusal."""


class BrokerUnavailable(PublishFailed):
    """No connection, or it broke before the confirm arrived."""


class Publisher(Protocol):
    def publish(self, message: OutboundMessage) -> None:
        """Return only once the broker has confirmed `message`; otherwise raise PublishFailed."""

    def idle(self) -> None:
        """Called while there is nothing to publish: keep the connection alive (heartbeats)."""

    def close(self) -> None: ...
