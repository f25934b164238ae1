"""Stage 10, worker processes: the fan-out with every service on PostgreSQL, one worker process
per service against two, the runs alternating between the two.

Each service's database is a throwaway PostgreSQL database (tests/support/pgdb.py: 127.0.0.1:5432,
dropped afterwards), given to the processes through `<SERVICE>_DATABASE_URL` as to any
deployment. PostgreSQL's own CPU per event is the CPU of the server processes (backends) serving
those databases, from `/proc` (the server is local; its shared background processes are left
out, and so is the CPU of a backend that closed during the drain). How often those backends wait
for a lock is sampled meanwhile (`pg_locks.py`).

The backlog is published once every worker process is ready (`prefilled=False`), so that the
first process to start does not drain alone while the second one starts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import fanout, procs
from bench.dbpeek import PEEK_APPLICATION
from bench.pg_locks import KINDS, LockWatch
from bench.vhost import BenchVhost
from services.common.topology import Service
from tests.support.pgdb import ADMIN_DSN, throwaway_database

PROCESSES = (1, 2)


@dataclass
class WorkersResult:
    """Per number of worker processes per service: the fan-out's figures, and per service and
    kind of lock ("inventory.row") the share of its busy database backends that waited for it
    (one value per run)."""

    fanouts: dict[int, fanout.FanoutResult]
    lock_share: dict[int, dict[str, list[float]]] = field(default_factory=dict)


def worker_processes(
    vh: BenchVhost, tmp: Path, n: int, runs: int, progress: Callable[[str], None]
) -> WorkersResult:
    """Each number of processes in `PROCESSES`, `runs` runs each, alternating."""
    results = WorkersResult({k: fanout.FanoutResult(n) for k in PROCESSES})
    with ExitStack() as stack:
        env = {
            f"{svc.value.upper()}_DATABASE_URL": stack.enter_context(
                throwaway_database(f"bench_{svc.value}")
            )
            for svc in Service
        }
        databases = {
            svc.value: make_url(env[f"{svc.value.upper()}_DATABASE_URL"]).database or ""
            for svc in Service
        }
        sys_ = stack.enter_context(procs.system(tmp / "workers-pg", env))
        for run in range(1, runs + 1):
            for k in PROCESSES:
                progress(f"stage 10: PostgreSQL fan-out of {n}, {k} process(es) each, run {run}")
                meters = {"postgresql": lambda: backends_cpu(list(databases.values()))}
                locks = LockWatch({svc: databases[svc] for svc in fanout.WORKERS})
                locks.start()
                try:
                    res = fanout.fanout(vh, sys_, n, 1, processes=k, prefilled=False, meters=meters)
                finally:
                    locks.finish()
                results.fanouts[k].merge(res)
                for svc in fanout.WORKERS:
                    for kind in KINDS:
                        shares = results.lock_share.setdefault(k, {})
                        shares.setdefault(f"{svc}.{kind}", []).append(locks.share(svc, kind))
    return results


def backends_cpu(databases: list[str]) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `databases` (the bench's
    own looks excluded)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND application_name <> %s",
            (databases, PEEK_APPLICATION),
        ).fetchall()
    return sum(procs.cpu_seconds(int(pid)) for (pid,) in rows)
