"""The shared outbox relay with a fake publisher: confirm, nack, unroutable, connection lost.

The tables are mapped into a metadata of the test's own, which shows the outbox package is not
tied to the orders service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from services.common.db import Database, table_of
from services.common.events import Envelope
from services.common.outbox import (
    Backoff,
    Lease,
    OutboundMessage,
    OutboxRelay,
    OutboxStore,
    RelayTuning,
    add_event,
)
from services.common.outbox.process import outbox_expiry
from services.common.outbox.relay import PublishedLog
from services.common.retention import Expiry, Pruner, delete_expired
from tests.support.factories import order_placed
from tests.support.outbox_tables import Base, Leases, Outbox, backlog
from tests.support.polling import wait_until
from tests.unit.orders.fakes import CONNECTION_LOST, NACK, UNROUTABLE, FakePublisher


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/relay.db")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def commit_events(db: Database, count: int) -> list[str]:
    """`count` order.placed events, each in its own transaction. Returns their ids in order."""
    ids = []
    for _ in range(count):
        envelope = Envelope.wrap(order_placed())
        with db.transaction() as session:
            add_event(session, Outbox, envelope, aggregate_id=envelope.data.order_id)
        ids.append(envelope.id)
    return ids


def make_relay(
    db: Database, publisher: FakePublisher, holder: str = "r1", pruner: Pruner | None = None
) -> OutboxRelay:
    return OutboxRelay(
        OutboxStore(db, Outbox),
        publisher,
        Lease(db, Leases, "test.outbox", ttl=30, holder=holder),
        config=RelayTuning(batch_size=10, poll_interval=0.05, backoff_initial=0.01),
        pruner=pruner,
    )


def rows(db: Database) -> list[Outbox]:
    with db.transaction() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_confirmed_events_are_published_in_commit_order_and_marked(db: Database) -> None:
    ids = commit_events(db, 3)
    publisher = FakePublisher()
    result = make_relay(db, publisher).run_once()
    assert result.published == 3
    assert result.error is None
    assert publisher.confirmed_ids == ids
    assert all(r.published_at is not None and r.attempts == 1 for r in rows(db))


def test_published_bytes_are_exactly_the_committed_envelope(db: Database) -> None:
    envelope = Envelope.wrap(order_placed(), correlation_id="corr-1")
    with db.transaction() as session:
        add_event(session, Outbox, envelope, aggregate_id=envelope.data.order_id)
    publisher = FakePublisher()
    make_relay(db, publisher).run_once()
    [sent] = publisher.confirmed
    assert sent.body == envelope.to_json_bytes()
    assert (sent.event_id, sent.event_type, sent.correlation_id) == (
        envelope.id,
        "order.placed",
        "corr-1",
    )


@pytest.mark.parametrize(
    ("outcome", "error_text"),
    [(NACK, "nacked"), (UNROUTABLE, "unroutable"), (CONNECTION_LOST, "StreamLostError")],
)
def test_a_failed_publish_keeps_the_row_pending_with_its_error_and_stops_the_batch(
    db: Database, outcome: str, error_text: str
) -> None:
    ids = commit_events(db, 3)
    publisher = FakePublisher("confirm", outcome)
    relay = make_relay(db, publisher)

    result = relay.run_once()

    assert result.published == 1
    assert result.error is not None
    assert error_text in result.error
    first, second, third = rows(db)
    assert first.published_at is not None
    assert second.published_at is None
    assert second.attempts == 1
    assert second.last_error is not None
    assert error_text in second.last_error
    assert third.published_at is None
    assert third.attempts == 0
    assert [m.event_id for m in publisher.attempts] == ids[:2]

    retry = relay.run_once()  # the broker is fine again
    assert retry.published == 2
    assert publisher.confirmed_ids == ids
    assert all(r.published_at is not None and r.last_error is None for r in rows(db))


def test_rows_in_flight_after_a_failure_stay_pending_and_go_out_again(db: Database) -> None:
    """A confirm window: 3 and 4 reached the broker after 2 failed, but only the prefix before
    the failure counts. They are published again with 2, in commit order; the consumers' inbox
    drops the second copies."""
    ids = commit_events(db, 4)
    publisher = FakePublisher("confirm", NACK, "confirm", "confirm", in_flight_after_failure=2)
    relay = make_relay(db, publisher)

    first = relay.run_once()
    assert (first.published, first.full_batch) == (1, False)
    marked = [r.published_at is not None for r in rows(db)]
    assert marked == [True, False, False, False]
    assert publisher.delivered_ids == [ids[0], ids[2], ids[3]]

    assert relay.run_once().published == 3
    assert publisher.confirmed_ids == ids
    assert publisher.delivered_ids == [ids[0], ids[2], ids[3], ids[1], ids[2], ids[3]]
    assert all(r.published_at is not None for r in rows(db))


def test_a_lease_that_runs_out_mid_batch_stops_publishing(db: Database) -> None:
    ids = commit_events(db, 5)
    mono = {"now": 0.0}
    lease = Lease(db, Leases, "test.outbox", ttl=30, holder="r1", monotonic=lambda: mono["now"])

    def expire_after_the_second(message: OutboundMessage) -> None:
        if message.event_id == ids[1]:
            mono["now"] += 31  # our own clock says the lease is over

    publisher = FakePublisher(on_publish=expire_after_the_second)
    relay = OutboxRelay(OutboxStore(db, Outbox), publisher, lease, config=RelayTuning())

    result = relay.run_once()
    assert (result.published, result.error) == (2, None)
    assert publisher.attempts == publisher.confirmed
    assert publisher.confirmed_ids == ids[:2]
    assert [r.published_at is not None for r in rows(db)] == [True, True, False, False, False]


def test_connection_lost_on_every_try_publishes_nothing_and_loses_nothing(db: Database) -> None:
    ids = commit_events(db, 2)
    publisher = FakePublisher(*[CONNECTION_LOST] * 5)
    relay = make_relay(db, publisher)
    for _ in range(5):
        assert relay.run_once().error is not None
    assert publisher.confirmed == []
    assert rows(db)[0].attempts == 5
    assert relay.run_once().published == 2
    assert publisher.confirmed_ids == ids


def test_only_the_lease_holder_publishes(db: Database) -> None:
    ids = commit_events(db, 4)
    first, second = FakePublisher(), FakePublisher()
    relay_a, relay_b = make_relay(db, first, "a"), make_relay(db, second, "b")

    assert relay_a.run_once().published == 4
    assert relay_b.run_once().leader is False
    more = commit_events(db, 2)
    assert relay_b.run_once().leader is False
    assert relay_a.run_once().published == 2

    relay_a.lease.release()  # a clean shutdown hands over at once
    assert relay_b.run_once().leader is True
    assert first.confirmed_ids == ids + more
    assert second.confirmed == []


def test_an_expired_lease_is_taken_over_and_the_old_holder_steps_back(db: Database) -> None:
    clock = {"now": 1000.0}
    mono = {"now": 0.0}

    def lease(holder: str) -> Lease:
        return Lease(
            db,
            Leases,
            "test.outbox",
            ttl=10,
            holder=holder,
            wall_clock=lambda: clock["now"],
            monotonic=lambda: mono["now"],
        )

    a, b = lease("a"), lease("b")
    assert a.hold() is True
    assert b.hold() is False
    clock["now"] += 11  # a died: it stopped renewing
    mono["now"] += 11
    assert a.held() is False  # its own clock tells it to stop before the DB expiry
    assert b.hold() is True
    assert a.hold() is False


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.1, 1.0, jitter=lambda: 1.0)
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)
    low = Backoff(0.1, 1.0, jitter=lambda: 0.0)
    assert low.next_delay() == pytest.approx(0.05)  # jitter never goes below half


def test_run_loop_retries_through_failures_then_drains_and_releases_the_lease(
    db: Database,
) -> None:
    ids = commit_events(db, 5)
    publisher = FakePublisher(CONNECTION_LOST, CONNECTION_LOST, NACK, "confirm", UNROUTABLE)
    relay = make_relay(db, publisher)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(lambda: backlog(db, Outbox) == 0, timeout=30, message="drain")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert publisher.confirmed_ids == ids
    assert publisher.closed >= 1
    with db.transaction() as session:
        assert session.scalars(select(Leases.expires_at)).one() == 0.0  # released


def test_an_idle_relay_holding_the_lease_prunes_old_published_rows_a_standby_never(
    db: Database,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=8)
    old = {"event_type": "order.placed", "payload": "{}", "attempts": 1}
    with db.transaction() as session:
        session.execute(
            insert(table_of(Outbox)),
            [
                old
                | {"event_id": f"old-{i}", "aggregate_id": "o", "correlation_id": "c"}
                | {"created_at": long_ago, "published_at": long_ago}
                for i in range(5)
            ],
        )
    fresh = commit_events(db, 2)
    standby_deletes: list[int] = []

    def counted(db: Database, expiry: Expiry, cutoff: datetime, limit: int) -> int:
        standby_deletes.append(limit)
        return delete_expired(db, expiry, cutoff, limit)

    def pruner(delete: Callable[[Database, Expiry, datetime, int], int] = delete_expired) -> Pruner:
        expiry = outbox_expiry(Outbox)
        return Pruner(db, expiry, days=7, batch=2, pause=0, interval=3600, delete=delete)

    leader, standby = FakePublisher(), FakePublisher()
    relay_a = make_relay(db, leader, "a", pruner())
    relay_b = make_relay(db, standby, "b", pruner(delete=counted))
    assert relay_a.run_once().published == 2  # a holds the lease from here on

    run_until(relay_b, lambda: standby.idle_calls >= 5)  # idles on, as a standby
    assert standby_deletes == []
    assert len(rows(db)) == 7

    run_until(relay_a, lambda: len(rows(db)) == 2)  # idle: prunes, three batches
    assert [r.event_id for r in rows(db)] == fresh  # published just now: kept


def run_until(relay: OutboxRelay, done: Callable[[], bool]) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(done, timeout=30, message="the relay's loop")
    finally:
        stop.set()
        thread.join(timeout=30)


def test_what_was_published_is_logged_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = {"now": 100.0}
    published = PublishedLog(interval=10, monotonic=lambda: clock["now"])
    with caplog.at_level(logging.INFO, logger="services.common.outbox.relay"):
        published.add(1, 5)  # after a quiet spell: at once
        clock["now"] += 4
        published.add(2, 7)
        clock["now"] += 4
        published.add(1, 8)
        clock["now"] += 4
        published.add(3, 11)  # 12 s after the first line: the sum since
    assert [r.getMessage() for r in caplog.records] == [
        "published 1 event(s) in 1 pass(es), last row 5",
        "published 6 event(s) in 3 pass(es), last row 11",
    ]
