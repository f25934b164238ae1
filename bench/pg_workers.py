"""Stage 10, worker processes: the fan-out with every service on PostgreSQL, one worker process
per service against two, the runs alternating between the two.

Each service's database is a throwaway PostgreSQL database (`pg_databases.py`). PostgreSQL's own
CPU per event is the CPU of the server processes (backends) serving those databases, from `/proc`.
How often those backends wait for a lock is sampled meanwhile (`pg_locks.py`).

The backlog is published once every worker process is ready (`prefilled=False`), so that the
first process to start does not drain alone while the second one starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import fanout, procs
from bench.pg_databases import METER, service_databases
from bench.pg_locks import KINDS, LockWatch
from bench.vhost import BenchVhost

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
    with service_databases("bench") as dbs, procs.system(tmp / "workers-pg", dbs.env) as sys_:
        for run in range(1, runs + 1):
            for k in PROCESSES:
                progress(f"stage 10: PostgreSQL fan-out of {n}, {k} process(es) each, run {run}")
                locks = LockWatch({svc: dbs.names[svc] for svc in fanout.WORKERS})
                locks.start()
                try:
                    with dbs.backends_cpu() as backends:
                        meters: fanout.Meters = {METER: backends}
                        res = fanout.fanout(vh, sys_, n, 1, k, prefilled=False, meters=meters)
                finally:
                    locks.finish()
                results.fanouts[k].merge(res)
                for svc in fanout.WORKERS:
                    for kind in KINDS:
                        shares = results.lock_share.setdefault(k, {})
                        shares.setdefault(f"{svc}.{kind}", []).append(locks.share(svc, kind))
    return results
