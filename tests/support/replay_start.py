"""Seeing a replay begin: the marker `python -m broker.replay` writes into an event log as it
starts (docs/event-log.md, "The marker"). Whatever is published to the log after the marker is
outside that replay's range, left to the live path."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from typing import cast

import pika

from broker.replay_log import AmqpEventLog, Delivery
from tests.support.broker import TestBroker


def first_marker(broker: TestBroker, stream: str, since: int) -> int:
    """The offset of the first replay marker in `stream` at or after offset `since`, once it is
    there (`tests.support.event_log.end_of` gives a `since` that its own marker is before)."""
    with closing(pika.BlockingConnection(broker.params())) as connection:
        publisher = connection.channel()
        publisher.confirm_delivery()
        # closed before the connection: the reader ends its consumer as a stream needs
        reader = cast(
            Generator[Delivery, None, None], AmqpEventLog(connection, publisher).read(stream, since)
        )
        with closing(reader):
            for delivery in reader:
                if delivery.is_marker:
                    return delivery.offset
    raise AssertionError("unreachable: a log is read until a marker comes")
