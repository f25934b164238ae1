"""`manage create-schema` brings a database made by an older schema up to date in place.

The older schema is made the honest way: today's tables without the columns and the index that
were added since (`outbox.trace_context`, `outbox.priority`, `ix_processed_events_processed_at`),
holding a row written then. After `create-schema` they exist, the old row is still there and the
relay's store reads it (no trace context, no priority), and running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, inspect, text

from services.common.db import Database
from services.common.outbox import OutboxStore
from services.common.schema import SchemaChangeRefused, add_missing_columns
from services.orders.manage import main as orders_manage
from services.orders.models import Base, OutboxMessage
from tests.support.pgdb import throwaway_database

INBOX_INDEX = "ix_processed_events_processed_at"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/orders.db"
    else:
        with throwaway_database("schema_upgrade") as pg_url:
            yield pg_url


def _old_database(url: str) -> None:
    """The orders database as `create-schema` made it before `outbox.trace_context`, with a
    pending outbox row written then."""
    db = Database(url)
    try:
        Base.metadata.create_all(db.engine)
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE outbox DROP COLUMN trace_context"))
            connection.execute(text("ALTER TABLE outbox DROP COLUMN priority"))
            connection.execute(text("DROP INDEX ix_processed_events_processed_at"))
            connection.execute(
                text(
                    "INSERT INTO outbox (event_id, event_type, aggregate_id, correlation_id, "
                    "payload, created_at, attempts) "
                    "VALUES ('e-old', 'order.placed', 'o-1', 'c-1', '{}', :at, 0)"
                ),
                {"at": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        db.dispose()


def _columns(url: str, table: str) -> set[str]:
    db = Database(url)
    try:
        return {c["name"] for c in inspect(db.engine).get_columns(table)}
    finally:
        db.dispose()


def _indexes(url: str, table: str) -> set[str]:
    db = Database(url)
    try:
        return {str(i["name"]) for i in inspect(db.engine).get_indexes(table)}
    finally:
        db.dispose()


def test_create_schema_adds_the_new_column_and_index_and_keeps_the_rows(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _old_database(url)
    assert not {"trace_context", "priority"} & _columns(url, "outbox")
    assert INBOX_INDEX not in _indexes(url, "processed_events")
    monkeypatch.setenv("ORDERS_DATABASE_URL", url)

    assert orders_manage(["create-schema"]) == 0
    out = capsys.readouterr().out
    assert "added column outbox.trace_context" in out
    assert "added column outbox.priority" in out
    assert f"added index {INBOX_INDEX}" in out
    assert {"trace_context", "priority"} <= _columns(url, "outbox")
    assert INBOX_INDEX in _indexes(url, "processed_events")
    db = Database(url)
    store = OutboxStore(db, OutboxMessage)
    try:
        [row] = store.pending(10)
        # written before the lanes: published with no priority, in the normal lane
        assert (row.event_id, row.trace_context, row.priority) == ("e-old", None, None)
    finally:
        store.close()
        db.dispose()

    assert orders_manage(["create-schema"]) == 0
    out = capsys.readouterr().out
    assert "added column" not in out
    assert "added index" not in out


def test_a_missing_column_that_cannot_be_added_in_place_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    try:
        old = MetaData()
        Table("t", old, Column("id", Integer, primary_key=True))
        old.create_all(db.engine)
        new = MetaData()
        Table(
            "t", new, Column("id", Integer, primary_key=True), Column("n", Integer, nullable=False)
        )
        with pytest.raises(SchemaChangeRefused, match=r"t\.n is missing"):
            add_missing_columns(db.engine, new)
        assert {c["name"] for c in inspect(db.engine).get_columns("t")} == {"id"}
    finally:
        db.dispose()
