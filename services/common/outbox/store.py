"""Writing events into the outbox (inside the business transaction) and reading them back."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from services.common.db import Database, table_of
from services.common.events import Envelope
from services.common.observability.messaging import capture
from services.common.outbox.priority import current as inherited_priority
from services.common.outbox.relay_sql import RelaySql
from services.common.outbox.tables import OutboxMixin
from services.common.table_insert import TableInsert

# Set on a session that added an outbox row; the relay is woken when it commits (wakeup.py).
ROW_ADDED = "shopflow.outbox.row_added"


@dataclass(frozen=True)
class OutboundMessage:
    """What the relay hands to a publisher: the committed bytes and their AMQP metadata."""

    row_id: int
    event_id: str
    event_type: str  # also the routing key
    correlation_id: str
    body: bytes
    trace_context: str | None = None  # the writer's, as stored (observability/messaging.py)
    priority: int | None = None  # the AMQP priority (None: none set; docs/priorities.md)


def _commit_order_lock(connection: Connection, table: type[OutboxMixin]) -> None:
    """On PostgreSQL, serialize outbox writers from id allocation to commit.

    A sequence hands out ids at INSERT time, so two concurrent transactions could commit ids 8
    and 7 in that order, and a relay reading in between would publish 8 before 7. Holding a
    transaction-level advisory lock (released at commit) around the insert makes id order equal
    commit order. SQLite needs nothing: `BEGIN IMMEDIATE` already serializes writers.
    """
    if connection.dialect.name == "postgresql":
        key = zlib.crc32(table.__tablename__.encode())  # type: ignore[attr-defined]
        connection.execute(_ADVISORY_LOCK, {"key": key})


# Built once and run on the session's connection (services/common/db.py says why).
_ADVISORY_LOCK = select(func.pg_advisory_xact_lock(bindparam("key")))
_OUTBOX_COLUMNS = (
    "event_id",
    "event_type",
    "aggregate_id",
    "correlation_id",
    "payload",
    "created_at",
    "attempts",
    "trace_context",
    "priority",
)


_INSERTS: dict[type[OutboxMixin], TableInsert] = {}


def _outbox_insert(table: type[OutboxMixin]) -> TableInsert:
    """Every outbox row: compiled once per database, run through the driver (table_insert.py)."""
    found = _INSERTS.get(table)
    if found is None:
        found = _INSERTS[table] = TableInsert(table, _OUTBOX_COLUMNS)
    return found


def add_event(
    session: Session,
    table: type[OutboxMixin],
    envelope: Envelope[Any],
    aggregate_id: str,
    priority: int | None = None,
) -> datetime:
    """Add `envelope` to the outbox in the caller's transaction; call it last, before commit.

    `priority` is the AMQP priority the relay will publish it with; by default, that of the
    event being handled (priority.py), so an express order's events stay in its lane.
    Returns the row's `created_at`, so a caller can show the row without reading it back.
    """
    connection = session.connection()
    _commit_order_lock(connection, table)
    created_at = datetime.now(UTC)
    # Through the driver (the ORM's bulk-insert path costs several times the CPU, a Core
    # insert about twice); a flush first keeps what autoflush did: the caller's pending ORM rows
    # go before it.
    if session.new or session.dirty or session.deleted:
        session.flush()
    _outbox_insert(table).run(
        connection,
        [
            {
                "event_id": envelope.id,
                "event_type": envelope.type,
                "aggregate_id": aggregate_id,
                "correlation_id": envelope.correlationid,
                "payload": envelope.to_json_bytes().decode(),
                "created_at": created_at,
                "attempts": 0,
                "trace_context": capture(),
                "priority": inherited_priority() if priority is None else priority,
            }
        ],
    )
    session.info[ROW_ADDED] = True
    return created_at


class OutboxStore:
    """The relay's view of one outbox table: its reads and marks in plain SQL on a connection of
    its own (`relay_sql.py` says why), the backlog through SQLAlchemy. `close` gives the
    connection back."""

    def __init__(self, db: Database, table: type[OutboxMixin]) -> None:
        self.db = db
        self.table = table
        self._columns = table_of(table).c
        self._sql = RelaySql(db.engine, table_of(table))

    def pending(self, limit: int) -> list[OutboundMessage]:
        return [
            OutboundMessage(
                row_id=row_id,
                event_id=event_id,
                event_type=event_type,
                correlation_id=correlation_id,
                body=payload.encode(),
                trace_context=trace_context,
                priority=priority,
            )
            for row_id, event_id, event_type, correlation_id, payload, trace_context, priority in (
                self._sql.pending(limit)
            )
        ]

    def backlog(self) -> tuple[int, datetime | None]:
        """How many rows wait to be published, and when the oldest of them was written. (Asked
        from the metrics thread, so not on the relay's connection.)"""
        t = self._columns
        with self.db.transaction() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(t.created_at)).where(t.published_at.is_(None))
            ).one()
        return int(count), oldest

    def record(self, published: list[int], failed: tuple[int, str] | None = None) -> None:
        """Mark confirmed rows published; keep the error of the row that failed, if any."""
        if failed is not None:
            failed = (failed[0], failed[1][:2000])
        self._sql.record(published, datetime.now(UTC), failed)

    def close(self) -> None:
        self._sql.close()
