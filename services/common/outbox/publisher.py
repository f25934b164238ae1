"""What the relay needs from a broker client, and how a publish can fail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from services.common.outbox.store import OutboundMessage


class PublishFailed(Exception):
    """The broker did not take the message. The row stays pending and the relay retries."""


class PublishRejected(PublishFailed):
    """The broker answered, but not with a confirm: a nack, a return (unroutable), a refusal."""


class BrokerUnavailable(PublishFailed):
    """No connection, or it broke (or went silent) before the confirm arrived."""


@dataclass(frozen=True)
class BatchFailure:
    """The first message of a batch that was not confirmed, and why."""

    message: OutboundMessage
    error: PublishFailed


@dataclass(frozen=True)
class BatchResult:
    """`confirmed`: row ids of the longest prefix of the batch that the broker acked and did not
    return, in order. `failure`: the message right after that prefix, if it failed.

    Messages after the failed one may have reached the broker (they were in flight in the same
    window); they are not in `confirmed`, so they stay pending and go out again later, which the
    consumers' inbox makes harmless. With no failure and a short prefix, the batch simply
    stopped early (the caller's iterable ended: the lease ran out).
    """

    confirmed: tuple[int, ...] = ()
    failure: BatchFailure | None = None


class Publisher(Protocol):
    def publish_batch(self, messages: Iterable[OutboundMessage]) -> BatchResult:
        """Publish `messages` in order with confirms; report the confirmed prefix.

        `messages` is consumed lazily, one item just before its publish, so the caller can stop
        the batch (end the iterable) at any point. Failures are reported in the result, not
        raised.
        """

    def idle(self) -> None:
        """Called while there is nothing to publish: keep the connection alive (heartbeats)."""

    def close(self) -> None: ...
