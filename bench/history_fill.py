"""History for the `history` stage: what N settled orders leave in the services' databases, made
in minutes with plain SQL.

The rows are copied from one real order, placed through the API and settled by every process
(its footprint: the tables that were empty before it and hold rows after it, in every service's
database), so the history is whatever the code writes for an order today, with nothing about its
tables written down here. The template's rows are set aside in temporary tables; each chunk of
`CHUNK` copies is then one `INSERT ... SELECT` per table, in one transaction, from a series of
copy numbers (`generate_series` on PostgreSQL, a recursive CTE on SQLite) joined with them:

- the order's *identities* (every value of a single-column primary key or unique string column
  of the footprint, in any database: the order id, its events' ids, the tracking number) get the
  copy's number in hex in their last `SUFFIX` characters, wherever they occur (a key, a payload,
  a timeline note), so the copies keep every reference between their rows and break no unique key;
- every timestamp moves back by the copy's age: copy `k` of `n` is `(n + 1 - k) * span / n`
  older than the template (on SQLite in whole seconds, the template's fraction kept), so the
  copies spread evenly over `span`, the oldest first (ids rise with time, as the outbox's do);
- an integer primary key of its own (the outbox's id, the lines' and the timeline's) is left to
  the database; everything else is the template's value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    Column,
    ColumnElement,
    Engine,
    Float,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.types import DateTime

CHUNK = 50_000  # copies per transaction
SUFFIX = 8  # an identity's last characters that number its copies (hex)

Footprint = dict[str, list[str]]  # service -> the tables holding its rows of an order


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the database."""
    meta = _reflected(engine)
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in meta.tables.items()
        }


def footprint(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> Footprint:
    """The tables (per service) that one order filled: empty before it, not after. A table that
    held rows before and changed is refused: its order's rows could not be told apart."""
    out: Footprint = {}
    for service, counts in after.items():
        grown = [t for t, n in counts.items() if n != before[service].get(t, 0)]
        mixed = [t for t in grown if before[service].get(t, 0)]
        if mixed:
            raise RuntimeError(f"{service}: {', '.join(mixed)} held rows before the template order")
        out[service] = sorted(grown)
    return out


def identities(engines: dict[str, Engine], tables: Footprint) -> list[str]:
    """Every value of a single-column primary key or unique string column of the footprint."""
    found: set[str] = set()
    for service, engine in engines.items():
        meta = _reflected(engine)
        with engine.connect() as conn:
            for name in tables[service]:
                table = meta.tables[name]
                for column in _identity_columns(table):
                    rows = conn.execute(select(table.c[column]).distinct())
                    found.update(str(value) for (value,) in rows if value is not None)
    short = sorted(v for v in found if len(v) <= SUFFIX)
    if short:
        raise RuntimeError(f"identities too short to number their copies: {short}")
    return sorted(found)


@dataclass(frozen=True)
class Copies:
    count: int  # copies of the template
    span: timedelta  # the oldest copy is this much older than the template
    ids: list[str]  # the template's identities

    @property
    def spacing(self) -> float:
        """Seconds between two copies."""
        return self.span.total_seconds() / self.count


def copy_rows(
    engine: Engine, tables: list[str], copies: Copies, progress: Callable[[str], None]
) -> dict[str, int]:
    """`copies.count` copies of every row of `tables` (which hold the template's rows alone);
    the rows added per table."""
    meta = _reflected(engine)
    before = table_counts(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA synchronous = OFF")  # this connection's writes only
        temporary = MetaData()
        statements = []
        for table in [t for t in meta.sorted_tables if t.name in tables]:  # parents first
            template = Table(
                f"tpl_{table.name}",
                temporary,
                *[Column(c.name, c.type) for c in table.columns],
                prefixes=["TEMPORARY"],
            )
            template.create(conn)
            conn.execute(insert(template).from_select(list(table.c.keys()), select(table)))
            rows = conn.execute(select(template)).all()
            statements.append(_copies(table, template, rows, copies.ids, engine.dialect.name))
        conn.commit()
        for first in range(1, copies.count + 1, CHUNK):
            last = min(copies.count, first + CHUNK - 1)
            params = {"first": first, "last": last, "newest": copies.count + 1}
            for statement in statements:
                conn.execute(statement, {**params, "spacing": copies.spacing})
            conn.commit()
            progress(f"copies {last:,} of {copies.count:,} in {engine.url.database}")
    after = table_counts(engine)
    return {name: after[name] - before[name] for name in tables}


def settle(engine: Engine) -> None:
    """After a bulk load, what a running database would have done by itself meanwhile:
    PostgreSQL's autovacuum (VACUUM, and statistics: the planner knows the tables' sizes) and a
    checkpoint; SQLite's WAL checkpoint (no statistics: the services never run ANALYZE)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            conn.exec_driver_sql("CHECKPOINT")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def megabytes(engine: Engine) -> float:
    """The database's size on disk."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            size = conn.execute(select(func.pg_database_size(func.current_database())))
            return int(size.scalar_one()) / 1e6
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
        return int(pages) * int(conn.exec_driver_sql("PRAGMA page_size").scalar_one()) / 1e6


def _reflected(engine: Engine) -> MetaData:
    meta = MetaData()
    meta.reflect(bind=engine)
    return meta


def _identity_columns(table: Table) -> Iterable[str]:
    keys = [list(table.primary_key.columns)]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [list(i.columns) for i in table.indexes if i.unique]
    for key in keys:
        if len(key) == 1 and isinstance(key[0].type, String):
            yield key[0].name


def _series(dialect: str) -> CTE:
    """The copy numbers `:first` .. `:last`, as `g.k`."""
    first, last = cast(bindparam("first"), Integer), cast(bindparam("last"), Integer)
    if dialect == "sqlite":
        start = select(first.label("k")).cte("g", recursive=True)
        return start.union_all(select(start.c.k + 1).where(start.c.k < last))
    return select(func.generate_series(first, last).label("k")).cte("g")


def _copies(
    table: Table, template: Table, rows: Sequence[Row[Any]], ids: list[str], dialect: str
) -> Any:
    """One chunk's `INSERT ... SELECT` of `table`: copies `:first` .. `:last` of `template`."""
    g = _series(dialect)
    columns = [c for c in table.columns if not _generated(table, c)]
    values = [
        _value(template.c[c.name], [r._mapping[c.name] for r in rows], ids, g.c.k, dialect)
        for c in columns
    ]
    copies = select(*values).select_from(g).join(template, true())
    return insert(table).from_select([c.name for c in columns], copies)


def _generated(table: Table, column: Column[Any]) -> bool:
    """An integer primary key of its own: the database numbers the copies."""
    return list(table.primary_key.columns) == [column] and isinstance(column.type, Integer)


def _value(
    column: Column[Any], values: list[Any], ids: list[str], k: ColumnElement[int], dialect: str
) -> ColumnElement[Any]:
    """One column of copy `k`: its identities numbered, its timestamp aged."""
    sqlite = dialect == "sqlite"
    if isinstance(column.type, DateTime):
        age = (cast(bindparam("newest"), Integer) - k) * cast(bindparam("spacing"), Float)
        if sqlite:
            shift = func.printf("-%d seconds", cast(age, Integer))
            whole = func.strftime("%Y-%m-%d %H:%M:%S", column, shift)
            return whole.concat(func.substr(column, 20)).label(column.name)
        interval = func.make_interval(0, 0, 0, 0, 0, 0, age)
        return (column - interval).label(column.name)
    present = [i for i in ids if any(i in str(v) for v in values if v is not None)]
    if not present:
        return column
    text_type = sqlite or isinstance(column.type, String)
    expr: ColumnElement[Any] = column if text_type else cast(column, Text)
    number = func.printf("%08x", k) if sqlite else func.lpad(func.to_hex(k), SUFFIX, "0")
    for identity in present:
        head, tail = identity[:-SUFFIX], identity[-SUFFIX:]
        numbered = literal(head).concat(func.upper(number) if tail.isupper() else number)
        expr = func.replace(expr, identity, numbered)
    return (expr if text_type else cast(expr, column.type)).label(column.name)
