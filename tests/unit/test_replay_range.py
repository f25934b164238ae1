"""What a replay reads and sends, with a fake event log (broker/replay_range.py, replay.py):
the range ends at the replay's own marker, a start past it is refused, markers and non-events
are skipped, nothing is published before the whole range was read and checked, and what is
published is the event as it was logged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest

from broker.repeats import InboxRetention
from broker.replay import Order, replay
from broker.replay_log import OFFSET_HEADER, Delivery
from broker.replay_range import Tally, entries, event_head, mark_end
from broker.replay_request import BadRequest, Window, sources_for
from broker.replay_spool import Spool
from services.common import topology as t
from services.common.events import Envelope
from tests.support.factories import order_confirmed_event, order_placed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeLog:
    """A stream as the broker keeps it: offsets from 0, markers written through their own
    exchange. `read` by time starts at the first message stored at or after it."""

    messages: list[tuple[Delivery, datetime]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    next_offset: int = 0

    def _offset(self) -> int:
        self.next_offset += 1
        return self.next_offset - 1

    def append(self, body: bytes, routing_key: str, stored: datetime = NOW) -> int:
        offset = self._offset()
        props = pika.BasicProperties(
            message_id=f"m-{offset}",
            content_type="application/json",
            headers={OFFSET_HEADER: offset, "correlation_id": "c-1"},
        )
        self.messages.append((Delivery(offset, "orders", routing_key, props, body), stored))
        return offset

    def event(self, days_ago: float = 0, kind: str = t.ORDER_PLACED) -> Envelope[Any]:
        if kind == t.ORDER_PLACED:
            event: Envelope[Any] = Envelope.wrap(
                order_placed(), time=NOW - timedelta(days=days_ago)
            )
        else:
            event = order_confirmed_event()
        self.append(event.to_json_bytes(), event.type)
        return event

    def mark_end(self, stream: str) -> int:
        offset = self._offset()
        props = pika.BasicProperties(message_id=f"replay-marker-{offset}")
        marker = Delivery(offset, t.REPLAY_MARKER_EXCHANGE, stream, props, b"marker")
        self.messages.append((marker, NOW))
        return offset

    def read(self, stream: str, start: int | datetime) -> Iterator[Delivery]:
        self.reads.append(stream)
        for delivery, stored in self.messages:
            if (delivery.offset >= start) if isinstance(start, int) else (stored >= start):
                yield delivery
        raise AssertionError("read past the end of the log: the marker was missed")


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, bytes, pika.BasicProperties, bool]] = []

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None:
        assert properties is not None
        self.published.append((exchange, routing_key, body, properties, mandatory))


def order(service: str = "inventory", **window: Any) -> Order:
    _, sources = sources_for(service, window.pop("types", []))
    flags = {k: window.pop(k) for k in ("dry_run", "first_time") if k in window}
    return Order(service, sources, Window(**window), **flags)


def run(log: FakeLog, asked: Order) -> tuple[int, FakePublisher, list[str]]:
    publisher, lines = FakePublisher(), list[str]()
    retention = InboxRetention(t.build("shop"), now=lambda: NOW)
    code = replay(asked, log, publisher, retention, lines.append)
    return code, publisher, lines


def test_a_replay_sends_the_range_up_to_its_own_marker_and_skips_what_is_not_for_it() -> None:
    log = FakeLog()
    before = log.event()
    log.mark_end("orders.log")  # an earlier replay's marker
    wanted = [log.event(), log.event()]
    log.append(b"poison", t.ORDER_PLACED)
    log.event(kind=t.ORDER_CONFIRMED)  # email's, not inventory's
    code, publisher, lines = run(log, order(since_offset=1))
    assert code == 0
    sent = publisher.published
    assert [(ex, key, body, mandatory) for ex, key, body, _, mandatory in sent] == [
        (t.REPLAY_EXCHANGE, t.INVENTORY_EVENTS_QUEUE, e.to_json_bytes(), True) for e in wanted
    ]
    assert before.id not in {p.message_id for *_, p, _ in sent}
    assert lines == [
        "orders.log: read offsets 1-5; skipped 1 of other types, 1 not events, 1 replay markers",
        "replayed 2 event(s) into inventory.orders (order.placed 2)",
    ]


def test_the_event_is_sent_as_it_was_logged_persistent_without_the_logs_offset() -> None:
    log = FakeLog()
    log.event()
    _, publisher, _ = run(log, order(since_offset=0))
    [(_, _, _, props, _)] = publisher.published
    assert (props.message_id, props.content_type, props.delivery_mode) == (
        "m-0",
        "application/json",
        2,
    )
    assert props.headers == {"correlation_id": "c-1"}


@pytest.mark.parametrize(
    ("events", "start", "held"),
    [(0, 0, "holds nothing yet"), (3, 3, "ends at offset 2"), (3, 40, "ends at offset 2")],
)
def test_a_start_past_the_end_is_refused_before_anything_is_read(
    events: int, start: int, held: str
) -> None:
    log = FakeLog()
    for _ in range(events):
        log.event()
    with pytest.raises(BadRequest) as refused:
        run(log, order(since_offset=start))
    assert (
        str(refused.value) == f"--since-offset {start} is past the end of orders.log, which {held}"
    )
    assert log.reads == []


def test_the_marker_that_ends_the_range_is_exact() -> None:
    log = FakeLog()
    log.event()
    assert mark_end(log, order(since_offset=0).sources[0], Window(since_offset=0)) == Tally(
        "orders.log", end=1
    )
    assert mark_end(log, order(since_offset=1).sources[0], Window(since_offset=1)).end == 2


def test_a_time_range_keeps_the_events_of_that_time_whatever_the_chunk() -> None:
    log = FakeLog()
    old = log.event(days_ago=2)  # stored now, but of two days ago: outside
    new = log.event()
    _, publisher, lines = run(log, order(since=NOW - timedelta(days=1), until=NOW + timedelta(1)))
    assert [p.message_id for *_, p, _ in publisher.published] == ["m-1"]
    assert old.id != new.id
    assert "skipped 1 outside the time range" in lines[0]


def test_the_range_stops_at_the_until_offset_and_notes_what_retention_removed() -> None:
    log = FakeLog()
    for _ in range(5):
        log.event()
    del log.messages[:2]  # the oldest segment, gone with the log's retention
    source = order(since_offset=0).sources[0]
    window = Window(since_offset=0, until_offset=3)
    tally = mark_end(log, source, window)
    assert [e.offset for e in entries(log, source, window, tally)] == [2, 3]
    assert tally.describe(window) == (
        "orders.log: read offsets 2-4; skipped nothing; it begins at offset 2: 0-1 are past the "
        "log's retention"
    )


def test_events_older_than_the_inbox_retention_are_refused_and_nothing_is_published() -> None:
    log = FakeLog()
    log.event(days_ago=1)
    log.event(days_ago=31)
    with pytest.raises(BadRequest) as refused:
        run(log, order(since_offset=0))
    assert str(refused.value) == (
        "1 of the 2 events to replay (1 for inventory.orders) are older than inventory's inbox "
        "retention (30 days): inventory may have forgotten handling them, so a repeat would be "
        "handled again; nothing published (--first-time if inventory never consumed them)"
    )
    code, publisher, _ = run(log, order(since_offset=0, first_time=True))
    assert (code, len(publisher.published)) == (0, 2)


def test_a_dry_run_lists_what_it_would_send_and_sends_nothing() -> None:
    log = FakeLog()
    event = log.event()
    code, publisher, lines = run(log, order(since_offset=0, dry_run=True))
    assert (code, publisher.published) == (0, [])
    assert lines[1:] == [
        f"orders.log@0  {event.time.isoformat()}  order.placed  {event.id}  -> inventory.orders",
        "dry run: would replay 1 event(s) into inventory.orders (order.placed 1); nothing sent",
    ]


def test_the_spool_gives_back_every_entry_as_it_was_added() -> None:
    log = FakeLog()
    for days in (0, 1, 2):
        log.event(days_ago=days)
    source = order(since_offset=0).sources[0]
    window = Window(since_offset=0)
    read = list(entries(log, source, window, mark_end(log, source, window)))
    with Spool() as spool:
        for entry in read:
            spool.add(entry)
        back = list(spool)
    assert [(e.offset, e.event_id, e.time, e.queue, e.body) for e in back] == [
        (e.offset, e.event_id, e.time, e.queue, e.body) for e in read
    ]
    assert [e.properties.headers for e in back] == [e.properties.headers for e in read]


@pytest.mark.parametrize(
    "body", [b"poison", b"[1]", b'{"id": "x", "type": "order.placed"}', b'{"id": "x", "type": '
    b'"order.placed", "time": "2026-06-01T12:00:00"}'],
)  # fmt: skip
def test_a_body_that_is_no_event_envelope_has_no_head(body: bytes) -> None:
    assert event_head(body) is None
