"""Read-only looks into the services' SQLite files while they run (WAL: readers never block)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url


class Peek:
    def __init__(self, url: str) -> None:
        path = make_url(url).database
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def scalar(self, sql: str, *params: Any) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0] or 0)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    def close(self) -> None:
        self.conn.close()


def epoch(stored: str | None) -> float:
    """A naive-UTC datetime as SQLAlchemy stores it in SQLite -> Unix time."""
    if stored is None:
        return float("nan")
    return datetime.fromisoformat(stored).replace(tzinfo=UTC).timestamp()
