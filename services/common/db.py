"""Database plumbing every service shares: engine creation and transactions.

SQLite is the embedded default (one file per service, WAL mode, a generous busy timeout).
Write transactions on SQLite start with `BEGIN IMMEDIATE`, so two writers queue on the busy
timeout instead of one of them failing with "database is locked" when it upgrades a read lock.
Any other `DATABASE_URL` (PostgreSQL in the tests) works unchanged. Nothing connects until the
first query, so importing a service never touches its database.

On SQLite the threads of one process also take turns on a lock around each transaction: SQLite
lets one writer in at a time anyway, and a thread that finds the file locked waits in SQLite's busy
handler, which *sleeps* 1, 2, 5, 10, 15, 20, 25 ... ms between tries, so a 3 ms transaction ahead
of it costs it about 8 ms, and four busy threads queue far longer than the work takes. Waiting on
the lock instead wakes a thread the moment the one ahead commits (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from opentelemetry.trace import Tracer
from sqlalchemy import Engine, Insert, Table, create_engine, event, insert, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; for SQLite, make the file's folder and set WAL + busy timeout."""
    if not is_sqlite(url):
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last checkpoint
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine and its session factory; one per process, built in the service's bootstrap."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_db_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reentrant: a transaction opened inside another (by mistake) must not deadlock.
        self._turn: AbstractContextManager[object] = (
            threading.RLock() if is_sqlite(url) else nullcontext()
        )
        self._tracer: Tracer | None = None

    def trace_transactions(self, tracer: Tracer) -> None:
        """Give every transaction a span of its own, from waiting for its turn to its commit
        (services/common/observability/process.py: only inside a trace)."""
        self._tracer = tracer

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        with self._span(), self._turn, self.sessions.begin() as session:
            yield session

    def _span(self) -> AbstractContextManager[object]:
        if self._tracer is None:
            return nullcontext()
        return self._tracer.start_as_current_span(
            "transaction", attributes={"db.system.name": self.engine.dialect.name}
        )

    def dispose(self) -> None:
        self.engine.dispose()


_TABLES: dict[type[object], Table] = {}


def table_of(model: type[object]) -> Table:
    """The table a mapped class (or a service's mapping of a shared mixin) is stored in."""
    table = _TABLES.get(model)
    if table is None:
        table = _TABLES[model] = cast(Table, inspect(model).local_table)
    return table


# Statements are built once and executed with parameters, on the session's connection. Building
# one per call (the usual `insert(table).values(...)`) made SQLAlchemy construct and key it again
# every time, and the ORM session's execute adds its own layer: together two to three times the
# CPU of executing a built one on the connection, and most of a handler's (docs/benchmarks.md).


@functools.cache
def insert_statement(table: Table) -> Insert:
    """`INSERT INTO table`, built once: run it with each row's values."""
    return insert(table)


@functools.cache
def _insert_ignoring_duplicates(table: Table, dialect: str) -> ReturningInsert[Any]:
    statement: sqlite.Insert | postgresql.Insert
    if dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"insert_unless_exists: no ON CONFLICT for {dialect}")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT run through the Session.
    return statement.returning(*table.primary_key.columns)


def insert_rows(session: Session, rows: Sequence[object]) -> None:
    """INSERT new objects of one mapped class as a single statement, outside the unit of work.

    The objects stay transient: they only carry the values (typed by the model) and can build an
    answer afterwards. Attributes never set (autoincrement ids, defaults) are left to the table.
    The unit of work costs several times the CPU for the same rows, and a flush per FK level.
    """
    if rows:
        table = table_of(type(rows[0]))
        session.connection().execute(
            insert_statement(table),
            [
                {c.key: state.dict[c.key] for c in table.columns if c.key in state.dict}
                for state in map(inspect, rows)
            ],
        )


def insert_unless_exists(session: Session, model: type[object], **values: Any) -> bool:
    """`INSERT ... ON CONFLICT DO NOTHING` of one row; True if it was inserted.

    One statement where a SELECT, a SAVEPOINT, the INSERT and a RELEASE (or a caught
    IntegrityError) did the same job. On PostgreSQL an insert that meets a row a concurrent
    transaction has not committed yet waits for it, then skips (it committed) or inserts (it
    rolled back), so exactly one of two racing twins gets True. On SQLite `BEGIN IMMEDIATE`
    already serializes them. It goes to the table, not through the ORM's unit of work.
    """
    connection = session.connection()
    statement = _insert_ignoring_duplicates(table_of(model), connection.dialect.name)
    return connection.execute(statement, values).first() is not None
