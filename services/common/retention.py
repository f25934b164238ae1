"""Deleting rows past their retention in small batches: the outbox's published rows, the inbox's
`processed_events`, the email service's sent mails (docs/operations.md, "Retention").

A batch is one short transaction: `DELETE ... WHERE <row> IN (SELECT <row> ... WHERE <expired>
ORDER BY <time> LIMIT n)`, by `rowid` on SQLite and by `ctid` on PostgreSQL (with `FOR UPDATE
SKIP LOCKED`, so a row another transaction holds is left for the next run instead of waited for).
It never touches the outbox's commit-order advisory lock, and the rows it deletes are ones the
hot path no longer writes (published outbox rows, old inbox rows), so on PostgreSQL it waits for
no business transaction and none waits for it. On SQLite every write transaction takes the
database's one write lock, so a business transaction may wait for one batch, never for a run:
the pruner commits each batch and pauses before the next.

`Pruner.step` runs at most one batch and says when to call it again; the relay calls it while it
has nothing to publish, the inbox runner (`inbox_retention.py`) from a thread of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Delete, Table, any_, delete, func, literal_column, select
from sqlalchemy.engine import Dialect

from services.common.db import Database
from services.common.observability.metrics import RETENTION_PRUNED

log = logging.getLogger(__name__)

DAY = 86_400.0


@dataclass(frozen=True)
class Expiry:
    """Which rows of `table` may go: those whose `column` is older than the cutoff (and that
    `only` selects). `naive`: the column holds naive UTC datetimes (no `UtcDateTime`)."""

    table: Table
    column: str
    only: ColumnElement[bool] | None = None
    naive: bool = False

    @property
    def name(self) -> str:
        return self.table.name

    def statement(self, dialect: Dialect, cutoff: datetime, limit: int) -> Delete:
        """One batch: up to `limit` expired rows, oldest first."""
        t, moment = self.table, self.table.c[self.column]
        value = cutoff.astimezone(UTC).replace(tzinfo=None) if self.naive else cutoff
        expired = moment.isnot(None) & (moment < value)
        if self.only is not None:
            expired = expired & self.only
        if dialect.name == "postgresql":
            ctid: ColumnElement[object] = literal_column("ctid")
            rows = (
                select(ctid)
                .select_from(t)
                .where(expired)
                .order_by(moment)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            # `= ANY(ARRAY(...))`: a TID scan; `ctid IN (SELECT ...)` may scan the whole table.
            return delete(t).where(ctid == any_(func.array(rows.scalar_subquery())))
        rowid: ColumnElement[int] = literal_column("rowid")
        rows = select(rowid).select_from(t).where(expired).order_by(moment).limit(limit)
        return delete(t).where(rowid.in_(rows.scalar_subquery()))


def delete_expired(db: Database, expiry: Expiry, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` rows of `expiry` older than `cutoff`, in one transaction."""
    with db.transaction() as session:
        result = session.execute(expiry.statement(db.engine.dialect, cutoff, limit))
        deleted = int(result.rowcount)  # type: ignore[attr-defined]
    if deleted:
        RETENTION_PRUNED.labels(expiry.name).inc(deleted)
    return deleted


@dataclass
class Pruner:
    """Prunes one table a batch at a time: a run starts every `interval` seconds and goes on,
    `pause` seconds between batches, until a batch comes back short. `days` 0 keeps every row."""

    db: Database
    expiry: Expiry
    days: float
    batch: int
    pause: float
    interval: float
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)
    delete: Callable[[Database, Expiry, datetime, int], int] = delete_expired
    deleted_in_run: int = field(default=0, init=False)
    _due: float = field(default=0.0, init=False)

    def step(self) -> float:
        """Run one batch if one is due; seconds until the next should run."""
        if self.days <= 0:
            return self.interval
        now = self.clock()
        if now < self._due:
            return self._due - now
        cutoff = self.wall() - timedelta(days=self.days)
        try:
            deleted = self.delete(self.db, self.expiry, cutoff, self.batch)
        except Exception:
            self._due = now + self.interval  # the next run tries again
            raise
        self.deleted_in_run += deleted
        if deleted == self.batch:
            self._due = self.clock() + self.pause
            return self.pause
        if self.deleted_in_run:
            log.info(
                "pruned %d row(s) of %s older than %g day(s)",
                self.deleted_in_run,
                self.expiry.name,
                self.days,
            )
        self.deleted_in_run = 0
        self._due = now + self.interval
        return self.interval
