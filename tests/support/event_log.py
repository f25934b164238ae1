"""Reading an event log in tests, the way the replay tool does (a marker ends the read)."""

from __future__ import annotations

from contextlib import closing

import pika

from broker.replay_log import AmqpEventLog, Delivery
from tests.support.broker import TestBroker


def logged(
    broker: TestBroker, stream: str, since: int = 0, user: str | None = None
) -> list[Delivery]:
    """Every message of `stream` from offset `since` up to now, markers left out."""
    with closing(pika.BlockingConnection(broker.params(user))) as connection:
        publisher = connection.channel()
        publisher.confirm_delivery()
        log = AmqpEventLog(connection, publisher)
        end = log.mark_end(stream)
        found: list[Delivery] = []
        for delivery in log.read(stream, since):
            if delivery.offset >= end:
                return found
            if not delivery.is_marker:
                found.append(delivery)
    raise AssertionError("unreachable: a read ends at its marker")


def end_of(broker: TestBroker, stream: str) -> int:
    """The offset the next message of `stream` will get (its end, as of now)."""
    with closing(pika.BlockingConnection(broker.params())) as connection:
        publisher = connection.channel()
        publisher.confirm_delivery()
        return AmqpEventLog(connection, publisher).mark_end(stream) + 1
