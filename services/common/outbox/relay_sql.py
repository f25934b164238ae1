"""The relay's three statements as plain SQL on a DBAPI connection of its own.

At moderate rates a relay pass carries one row: one read and one update, each a few tens of
microseconds of database work. Run through SQLAlchemy (a Session and a pool checkout per
transaction, the statement's compiled form, its execution context, the engine's events) the two
cost about 1 ms of CPU per pass on SQLite, more than publishing the row; through Core on a kept
connection still about 0.4 ms; on the driver itself under 0.1 ms (measured in-process on this
machine, one row per pass). So the relay keeps one driver connection (`Engine.raw_connection`,
detached from the pool) and runs these statements on it directly; everything else, the relay's
lease and the backlog gauge included, goes through SQLAlchemy as usual.

The statements are built with SQLAlchemy and compiled once for the engine's dialect (SQLite and
PostgreSQL, the two databases shopflow runs on: services/common/db.py), so quoting and
placeholders are the dialect's own; the timestamp goes through its column type's bind processor,
so it is stored exactly as SQLAlchemy stores it. Transactions:

- SQLite: the read is one statement in autocommit mode (a snapshot of its own, without the write
  lock that `BEGIN IMMEDIATE` would take from the writers); the marks run in `BEGIN IMMEDIATE`,
  as every write does here, so that they queue on the busy timeout instead of failing.
- PostgreSQL: the connection is in autocommit mode; the read and a lone mark are one statement
  each (one round trip), a mark with a failure to record goes in one BEGIN ... COMMIT.

A driver error closes the connection (the next pass opens a new one) and is raised as
SQLAlchemy's `DBAPIError`, which the relay handles like any other database error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Integer, Table, bindparam, null, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Row = tuple[int, str, str, str, str, str | None, int | None]
Params = dict[str, Any]


class RelaySql:
    def __init__(self, engine: Engine, table: Table) -> None:
        dialect = engine.dialect
        if dialect.name not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"the relay runs on SQLite or PostgreSQL, not {dialect.name}")
        self._engine = engine
        self._dialect = dialect
        self._sqlite = dialect.name == "sqlite"
        self._error = dialect.loaded_dbapi.Error
        self._table = t = table
        column_type = t.c.published_at.type.dialect_impl(dialect)
        self._timestamp: Callable[[Any], Any] = column_type.bind_processor(dialect) or _same
        self._raw: PoolProxiedConnection | None = None
        self._marks: dict[int, Statement] = {}
        self._read = self._compile(
            select(t.c.id, t.c.event_id, t.c.event_type, t.c.correlation_id, t.c.payload)
            .add_columns(t.c.trace_context, t.c.priority)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.id)
            .limit(bindparam("limit", type_=Integer()))
        )
        self._fail = self._compile(
            update(t)
            .where(t.c.id == bindparam("row_id"))
            .values(attempts=t.c.attempts + 1, last_error=bindparam("error"))
        )

    def pending(self, limit: int) -> list[Row]:
        """Up to `limit` unpublished rows, oldest first."""
        with self._cursor() as cursor:
            cursor.execute(*self._read.call({"limit": limit}))
            return list(cursor.fetchall())

    def record(
        self, published: Sequence[int], now: datetime, failed: tuple[int, str] | None
    ) -> None:
        """Mark `published` (still unpublished ones only) and keep `failed`'s error, at once."""
        statements: list[tuple[str, Any]] = []
        if published:
            values: Params = {f"id{i}": row_id for i, row_id in enumerate(published)}
            values["now"] = self._timestamp(now)
            statements.append(self._mark(len(published)).call(values))
        if failed is not None:
            statements.append(self._fail.call({"row_id": failed[0], "error": failed[1]}))
        if not statements:
            return
        transaction = self._sqlite or len(statements) > 1
        with self._cursor() as cursor:
            if transaction:
                cursor.execute("BEGIN IMMEDIATE" if self._sqlite else "BEGIN")
            try:
                for sql, params in statements:
                    cursor.execute(sql, params)
            except BaseException:
                if transaction:
                    with suppress(self._error):
                        cursor.execute("ROLLBACK")
                raise
            if transaction:
                cursor.execute("COMMIT")

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with suppress(self._error):
                raw.close()

    def _mark(self, count: int) -> Statement:
        statement = self._marks.get(count)
        if statement is None:
            t = self._table
            ids = [bindparam(f"id{i}", type_=t.c.id.type) for i in range(count)]
            statement = self._marks[count] = self._compile(
                update(t)
                .where(t.c.id.in_(ids), t.c.published_at.is_(None))
                .values(published_at=bindparam("now"), attempts=t.c.attempts + 1, last_error=null())
            )
        return statement

    def _compile(self, statement: ClauseElement) -> Statement:
        compiled = statement.compile(dialect=self._dialect)
        assert isinstance(compiled, SQLCompiler)
        order = compiled.positiontup
        return Statement(
            compiled.string, compiled.params, tuple(order) if order is not None else None
        )

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            if self._raw is None:
                self._raw = self._open()
            cursor = _driver(self._raw).cursor()
            try:
                yield cursor
            finally:
                with suppress(self._error):
                    cursor.close()
        except self._error as exc:
            self.close()
            raise DBAPIError.instance(None, None, exc, self._error) from exc

    def _open(self) -> PoolProxiedConnection:
        raw = self._engine.raw_connection()  # the engine's connect hooks (PRAGMAs) have run
        raw.detach()  # ours alone: closed, not pooled, when the relay is done with it
        if not self._sqlite:
            connection = _driver(raw)
            connection.rollback()  # whatever the pool's ping began
            connection.autocommit = True
        return raw


@dataclass(frozen=True)
class Statement:
    """SQL in the driver's own paramstyle, compiled once by SQLAlchemy for the engine's dialect."""

    sql: str
    constants: Params  # the values the statement itself carries (`attempts + 1`)
    order: tuple[str, ...] | None  # the parameters' names in order, for a positional paramstyle

    def call(self, values: Params) -> tuple[str, Any]:
        """The SQL and its parameters as the driver's `execute` takes them."""
        merged = {**self.constants, **values}
        if self.order is None:
            return self.sql, merged
        return self.sql, tuple(merged[name] for name in self.order)


def _driver(raw: PoolProxiedConnection) -> Any:
    connection = raw.dbapi_connection  # sqlite3's or psycopg's own (neither is adapted)
    assert connection is not None
    return connection


def _same(value: Any) -> Any:
    return value
