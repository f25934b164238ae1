"""A scripted publisher: each message takes the next outcome (default: confirmed)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from services.common.outbox import BrokerUnavailable, OutboundMessage, PublishRejected
from services.common.outbox.publisher import BatchFailure, BatchResult, PublishFailed

CONFIRM = "confirm"
NACK = "nack"
UNROUTABLE = "unroutable"
CONNECTION_LOST = "connection lost"


def _error(outcome: str) -> PublishFailed | None:
    if outcome == NACK:
        return PublishRejected("nacked by the broker")
    if outcome == UNROUTABLE:
        return PublishRejected("unroutable: returned by the broker (312 NO_ROUTE)")
    if outcome == CONNECTION_LOST:
        return BrokerUnavailable("StreamLostError: connection reset")
    return None


class FakePublisher:
    """Like a confirm window: a batch stops at the first failure, but `in_flight_after_failure`
    later messages of the batch were already on their way, and reach the broker (`delivered`)
    without being confirmed. `on_publish` runs after each message is taken."""

    def __init__(
        self,
        *outcomes: str,
        in_flight_after_failure: int = 0,
        on_publish: Callable[[OutboundMessage], None] | None = None,
    ) -> None:
        self.outcomes: deque[str] = deque(outcomes)
        self.in_flight_after_failure = in_flight_after_failure
        self.on_publish = on_publish
        self.confirmed: list[OutboundMessage] = []
        self.delivered: list[OutboundMessage] = []
        self.attempts: list[OutboundMessage] = []
        self.batches = 0
        self.idle_calls = 0
        self.closed = 0

    def publish_batch(self, messages: Iterable[OutboundMessage]) -> BatchResult:
        self.batches += 1
        confirmed: list[int] = []
        failure: BatchFailure | None = None
        extra = 0
        for message in messages:
            if failure is not None:
                if extra == self.in_flight_after_failure:
                    break
                extra += 1
            self.attempts.append(message)
            if self.on_publish is not None:
                self.on_publish(message)
            error = _error(self.outcomes.popleft() if self.outcomes else CONFIRM)
            if error is None and failure is None:
                self.confirmed.append(message)
                confirmed.append(message.row_id)
            if error is None:
                self.delivered.append(message)
            elif failure is None:
                failure = BatchFailure(message, error)
        return BatchResult(tuple(confirmed), failure)

    def idle(self) -> None:
        self.idle_calls += 1

    def close(self) -> None:
        self.closed += 1

    @property
    def confirmed_ids(self) -> list[str]:
        return [m.event_id for m in self.confirmed]

    @property
    def delivered_ids(self) -> list[str]:
        return [m.event_id for m in self.delivered]
