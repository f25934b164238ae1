"""The relay's reads and marks in plain SQL (services/common/outbox/relay_sql.py) on SQLite and
PostgreSQL: they store what SQLAlchemy would, touch only what they should, and survive a lost
connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError

from services.common.db import Database, table_of
from services.common.events import Envelope
from services.common.outbox import OutboxStore, add_event
from tests.support.factories import order_placed
from tests.support.outbox_tables import Base, Outbox
from tests.support.pgdb import throwaway_database

DB_KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DB_KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/outbox.db")
        Base.metadata.create_all(database.engine)
        yield database
        database.dispose()
    else:
        with throwaway_database("outbox_store") as url:
            database = Database(url)
            Base.metadata.create_all(database.engine)
            yield database
            database.dispose()


@pytest.fixture
def store(db: Database) -> Iterator[OutboxStore]:
    outbox = OutboxStore(db, Outbox)
    yield outbox
    outbox.close()


def commit(db: Database, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        envelope = Envelope.wrap(order_placed())
        with db.transaction() as session:
            add_event(session, Outbox, envelope, aggregate_id=envelope.data.order_id)
        ids.append(envelope.id)
    return ids


def rows(db: Database) -> list[Outbox]:
    with db.transaction() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_pending_rows_come_oldest_first_with_the_committed_bytes(
    db: Database, store: OutboxStore
) -> None:
    ids = commit(db, 3)
    batch = store.pending(2)
    assert [m.event_id for m in batch] == ids[:2]
    assert [m.row_id for m in batch] == [r.id for r in rows(db)][:2]
    assert batch[0].body == rows(db)[0].payload.encode()


def test_a_mark_stores_the_timestamp_exactly_as_sqlalchemy_does(
    db: Database, store: OutboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(db, 2)
    first, second = rows(db)
    moment = datetime(2026, 5, 1, 8, 30, 0, tzinfo=UTC)  # whole seconds: the telling case
    monkeypatch.setattr("services.common.outbox.store.datetime", _Frozen(moment))
    store.record([first.id])
    with db.transaction() as session:  # the same value through SQLAlchemy
        session.execute(
            update(table_of(Outbox)).where(Outbox.id == second.id).values(published_at=moment)
        )
        stored = session.execute(text("SELECT published_at FROM outbox ORDER BY id")).scalars()
        as_text = [str(value) for value in stored]
    assert as_text[0] == as_text[1]
    assert [r.published_at for r in rows(db)] == [moment, moment]


class _Frozen:
    """`datetime` as store.py sees it, with `now` stopped at one moment."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self, _tz: object = None) -> datetime:
        return self.moment


def test_marks_touch_only_unpublished_rows_and_a_failure_keeps_its_error(
    db: Database, store: OutboxStore
) -> None:
    commit(db, 3)
    a, b, c = (r.id for r in rows(db))
    store.record([a])
    store.record([a, b], failed=(c, "nacked by the broker"))  # `a` is published already
    first, second, third = rows(db)
    assert (first.attempts, second.attempts, third.attempts) == (1, 1, 1)
    assert first.published_at is not None
    assert second.published_at is not None
    assert (third.published_at, third.last_error) == (None, "nacked by the broker")
    store.record([c])
    assert (rows(db)[2].attempts, rows(db)[2].last_error) == (2, None)
    assert store.pending(10) == []


def test_a_database_error_is_sqlalchemys_and_the_next_call_connects_again(
    db: Database, store: OutboxStore
) -> None:
    commit(db, 1)
    assert len(store.pending(10)) == 1
    table = table_of(Outbox)
    table.drop(db.engine)  # the relay's own connection is open meanwhile
    with pytest.raises(SQLAlchemyError):
        store.pending(10)
    table.create(db.engine)
    commit(db, 2)
    assert len(store.pending(10)) == 2


def test_on_sqlite_the_read_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """The read is one statement in autocommit mode: it does not take the write lock that
    `BEGIN IMMEDIATE` would, so a writer holding it does not hold the relay up."""
    path = tmp_path / "outbox.db"
    db = Database(f"sqlite:///{path}")
    Base.metadata.create_all(db.engine)
    store = OutboxStore(db, Outbox)
    try:
        commit(db, 2)
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a business transaction in progress
        try:
            assert len(store.pending(10)) == 2
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    finally:
        store.close()
        db.dispose()
