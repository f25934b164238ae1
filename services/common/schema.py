"""Bringing a database up to its service's tables: create what is missing, add new columns and
indexes.

`metadata.create_all` creates missing tables but never changes an existing one, so a database made
before a column was added (the outbox's `trace_context`) would lack it. There is no migration
tool: a new column is made nullable with no server default, and `add_missing_columns` adds it in
place (`ALTER TABLE ... ADD COLUMN`, which SQLite and PostgreSQL both do without rewriting the
table). A change it cannot make that way (a new NOT NULL column, a changed type, a dropped column)
is refused with a message naming the column, never guessed at. `add_missing_indexes` creates an
index an existing table lacks (`processed_events.processed_at`, for retention); it reads the whole
table once, and on PostgreSQL blocks writes to it meanwhile (seconds per million rows), so run
`create-schema` before starting the service's processes, as `make up` does.
"""

from __future__ import annotations

from sqlalchemy import Column, Engine, MetaData, inspect, text
from sqlalchemy.schema import CreateIndex


class SchemaChangeRefused(RuntimeError):
    """An existing table needs a change that is not a nullable column added."""


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every column of `metadata` that an existing table lacks; `table.column` for each."""
    existing = inspect(engine)
    missing: list[tuple[str, Column[object]]] = []
    for table in metadata.sorted_tables:
        if not existing.has_table(table.name):
            continue  # create_all makes it whole
        present = {c["name"] for c in existing.get_columns(table.name)}
        missing += [(table.name, c) for c in table.columns if c.name not in present]
    for table_name, column in missing:
        if not column.nullable or column.primary_key or column.server_default is not None:
            raise SchemaChangeRefused(
                f"{table_name}.{column.name} is missing and cannot be added in place (not a "
                "nullable column without a default): recreate the database"
            )
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as connection:
        for table_name, column in missing:
            column_type = column.type.compile(dialect=engine.dialect)
            connection.execute(
                text(
                    f"ALTER TABLE {preparer.quote(table_name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {column_type}"
                )
            )
    return [f"{table_name}.{column.name}" for table_name, column in missing]


def add_missing_indexes(engine: Engine, metadata: MetaData) -> list[str]:
    """Create every index of `metadata` that an existing table lacks (by name); their names."""
    existing = inspect(engine)
    missing = []
    for table in metadata.sorted_tables:
        if not existing.has_table(table.name):
            continue  # create_all makes it whole
        present = {i["name"] for i in existing.get_indexes(table.name)}
        missing += [i for i in table.indexes if i.name not in present]
    with engine.begin() as connection:
        for index in missing:
            connection.execute(CreateIndex(index))
    return [str(index.name) for index in missing]
