"""A scripted publisher: each publish takes the next outcome (default: confirmed)."""

from __future__ import annotations

from collections import deque

from services.common.outbox import BrokerUnavailable, OutboundMessage, PublishRejected

CONFIRM = "confirm"
NACK = "nack"
UNROUTABLE = "unroutable"
CONNECTION_LOST = "connection lost"


class FakePublisher:
    def __init__(self, *outcomes: str) -> None:
        self.outcomes: deque[str] = deque(outcomes)
        self.confirmed: list[OutboundMessage] = []
        self.attempts: list[OutboundMessage] = []
        self.idle_calls = 0
        self.closed = 0

    def publish(self, message: OutboundMessage) -> None:
        self.attempts.append(message)
        outcome = self.outcomes.popleft() if self.outcomes else CONFIRM
        if outcome == NACK:
            raise PublishRejected("nacked by the broker")
        if outcome == UNROUTABLE:
            raise PublishRejected("unroutable: returned by the broker (312 NO_ROUTE)")
        if outcome == CONNECTION_LOST:
            raise BrokerUnavailable("StreamLostError: connection reset")
        self.confirmed.append(message)

    def idle(self) -> None:
        self.idle_calls += 1

    def close(self) -> None:
        self.closed += 1

    @property
    def confirmed_ids(self) -> list[str]:
        return [m.event_id for m in self.confirmed]
