"""Throwaway PostgreSQL databases for tests: created as user postgres, dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

ADMIN_DSN = os.environ.get(
    "TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


@contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """Create `<prefix>_<random>`, yield its SQLAlchemy URL, drop it (even if still in use)."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = conn.info
        host, port, user = info.host, info.port, info.user
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
