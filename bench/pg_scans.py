"""Rows read by sequential scans in the services' PostgreSQL databases, per table, from the
server's statistics (`pg_stat_user_tables`): a statement that reads a table without an index
shows here however rarely it runs, where its CPU could hide in the noise of a run.

The server counts a backend's reads when its transaction ends, at most once a second, so a count
taken right after some work may miss that last second."""

from __future__ import annotations

from bench.dbpeek import Peek
from services.common.registry import Service
from tests.support.system import System

_READS = "SELECT relname, seq_tup_read FROM pg_stat_user_tables"


def seq_reads(sys_: System) -> dict[str, int]:
    """ "service.table" -> rows read by sequential scans so far (nothing on SQLite)."""
    out: dict[str, int] = {}
    for svc in Service:
        url = sys_.db_url(svc.value)
        if not url.startswith("postgresql"):
            continue
        peek = Peek(url)
        try:
            out.update({f"{svc.value}.{t}": int(n) for t, n in peek.rows(_READS)})
        finally:
            peek.close()
    return out


def read_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The tables read by sequential scans between two counts, and how many rows."""
    grown = {t: n - before.get(t, 0) for t, n in after.items()}
    return {t: n for t, n in sorted(grown.items(), key=lambda kv: -kv[1]) if n > 0}
