"""INSERTs of a fixed set of columns, compiled once per database and run through the driver.

`Connection.execute` of a table `insert()` looks the statement up in the compile cache, builds
and processes its parameters through a generic path, and keeps the result's primary-key
bookkeeping, for every row: several times what the database itself spends on a small INSERT.
POST /orders runs four of them, and every event a service publishes one, its outbox row
(docs/benchmarks.md). Here the statement is compiled once per
dialect (the SQL text, the order of its parameters, each column's bind processor, all from
SQLAlchemy's own compiler and types), and each call only converts the row's values and hands
them to `exec_driver_sql`, which keeps the connection's transaction and its execute events (and
so the statement spans when tracing is on).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, insert

from services.common.db import table_of

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bind names, in the statement's order
    processors: tuple[Processor, ...]
    positional: bool  # the driver takes a tuple (SQLite's `?`), not a dict (psycopg's `%(x)s`)

    def params(self, row: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = [
            row[name] if process is None else process(row[name])
            for name, process in zip(self.names, self.processors, strict=True)
        ]
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


class TableInsert:
    """`INSERT INTO <model's table> (columns) VALUES (...)`: every row gives every column."""

    def __init__(self, model: type[object], columns: Sequence[str]) -> None:
        self._statement = insert(table_of(model))
        self.columns = tuple(columns)
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert `rows` (one statement; several rows are one executemany)."""
        compiled = self._compiled.get(conn.dialect) or self._compile(conn.dialect)
        params = [compiled.params(row) for row in rows]
        conn.exec_driver_sql(compiled.sql, params[0] if len(params) == 1 else params)

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=list(self.columns))
        names = tuple(compiled.positiontup or ()) if compiled.positional else self.columns
        if set(names) != set(self.columns):
            raise ValueError(f"{self._statement} binds {names}, not the columns {self.columns}")
        processors = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        result = _Compiled(compiled.string, names, processors, compiled.positional)
        self._compiled[dialect] = result
        return result
