"""How often the services' PostgreSQL backends wait for a lock (the capacity and `workers` stages).

Sampled from `pg_stat_activity` every 50 ms while a fan-out runs: per service, the backends in a
statement (`active`) and those of them waiting for a lock, by kind: a row another transaction
holds (`FOR UPDATE`: wait events `transactionid` and `tuple`), or an advisory lock (the outbox's,
which keeps id order equal to commit order on PostgreSQL: services/common/outbox/store.py). Each
kind's count over the active count is the share of the database work that waits for it instead of
running: near 0 when the workers' transactions do not touch the same rows.
"""

from __future__ import annotations

import math
import threading

import psycopg

from bench.dbpeek import PEEK_APPLICATION
from tests.support.pgdb import ADMIN_DSN

KINDS = ("row", "advisory")  # the order of the counts after `active` below
ACTIVITY = """
SELECT datname,
       count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                        AND wait_event IN ('transactionid', 'tuple')),
       count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock'
                        AND wait_event = 'advisory')
FROM pg_stat_activity WHERE datname = ANY(%s) AND application_name <> %s GROUP BY datname
"""


class LockWatch(threading.Thread):
    def __init__(self, databases: dict[str, str], interval: float = 0.05) -> None:
        """`databases`: service -> its database's name."""
        super().__init__(name="pg-lock-watch", daemon=True)
        self.service_of = {db: svc for svc, db in databases.items()}
        self.interval = interval
        self.active = dict.fromkeys(databases, 0)
        self.waiting = {(svc, kind): 0 for svc in databases for kind in KINDS}
        self._done = threading.Event()

    def run(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            while not self._done.wait(self.interval):
                params = (list(self.service_of), PEEK_APPLICATION)
                for db, active, *waiting in conn.execute(ACTIVITY, params).fetchall():
                    svc = self.service_of[db]
                    self.active[svc] += active
                    for kind, count in zip(KINDS, waiting, strict=True):
                        self.waiting[svc, kind] += count

    def finish(self) -> None:
        self._done.set()
        self.join(10)

    def share(self, service: str, kind: str) -> float:
        """Waiting for `kind` / active backends over every sample; nan if none was ever active."""
        active = self.active[service]
        return self.waiting[service, kind] / active if active else math.nan

    def shares(self) -> dict[tuple[str, str], float]:
        """(service, kind) -> `share(service, kind)`, for every service and kind."""
        return {key: self.share(*key) for key in self.waiting}
