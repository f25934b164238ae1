"""Read-only looks into the services' databases while they run: SQLite files (WAL: readers never
block) or PostgreSQL (the capacity and `workers` stages)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

PEEK_APPLICATION = "shopflow-bench-peek"  # its backends are not the services' (pg_databases)


class Peek:
    """`sql` in the database's own parameter style (`?` for SQLite, `%s` for PostgreSQL)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.conn: sqlite3.Connection | psycopg.Connection[Any]
        postgresql = parsed.get_backend_name() == "postgresql"
        self.placeholder = "%s" if postgresql else "?"  # for a parameter in `sql`
        if postgresql:
            self.conn = psycopg.connect(
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                password=parsed.password,
                dbname=parsed.database,
                autocommit=True,
                application_name=PEEK_APPLICATION,
            )
        else:
            path = parsed.database
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def scalar(self, sql: str, *params: Any) -> int:
        row = self.conn.execute(sql, params).fetchone()
        return int(row[0] or 0) if row else 0

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    def close(self) -> None:
        self.conn.close()


def epoch(stored: str | datetime | None) -> float:
    """A stored UTC datetime -> Unix time: as SQLAlchemy writes it into SQLite (ISO text), or as
    psycopg reads it from PostgreSQL (naive for a column without a time zone, which holds UTC)."""
    if stored is None:
        return float("nan")
    at = datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
