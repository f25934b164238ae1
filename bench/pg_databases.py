"""Every service on a throwaway PostgreSQL database of its own, and what the server spends on them.

The databases are the test suite's (tests/support/pgdb.py: made as user postgres on the local
server, 127.0.0.1:5432 unless `TEST_POSTGRES_DSN` says otherwise, dropped afterwards even if still
in use), given to the processes through `<SERVICE>_DATABASE_URL` as to any deployment. The
server's CPU is that of its processes (backends) serving those databases, from `/proc` (the
server is local); its shared background processes (WAL writer, checkpointer) are left out, and so
are the bench's own looks (`PEEK_APPLICATION`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import procs
from bench.dbpeek import PEEK_APPLICATION
from services.common.topology import Service
from tests.support.pgdb import ADMIN_DSN, throwaway_database

METER = "postgresql"  # the name of the backends' meter in a stage's results
_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND application_name <> %s"


@dataclass(frozen=True)
class ServiceDatabases:
    env: dict[str, str]  # `<SERVICE>_DATABASE_URL` -> its URL, for the processes' environment
    names: dict[str, str]  # service -> its database's name

    def backends_cpu(self) -> BackendsCpu:
        """A meter of the backends serving every service's database (enter it to have it look
        in the background too)."""
        return BackendsCpu(list(self.names.values()))


@contextmanager
def service_databases(prefix: str) -> Iterator[ServiceDatabases]:
    """A database `<prefix>_<service>_<random>` per service, dropped on the way out."""
    with ExitStack() as stack:
        env = {
            f"{svc.value.upper()}_DATABASE_URL": stack.enter_context(
                throwaway_database(f"{prefix}_{svc.value}")
            )
            for svc in Service
        }
        names = {
            svc.value: make_url(env[f"{svc.value.upper()}_DATABASE_URL"]).database or ""
            for svc in Service
        }
        yield ServiceDatabases(env, names)


class BackendsCpu:
    """CPU seconds used so far by the backends connected to `databases`, as a meter (a stage
    takes the difference between two calls).

    Each look adds what every backend used since the previous look; a backend first seen counts
    from its start. The services' connection pools open and close connections under load (the
    API's overflow beyond its pool), and a backend's CPU can be read only while it runs: so,
    entered as a context manager, the meter also looks every `interval` seconds in a thread of
    its own, and a backend that closes loses only what it used since the last look."""

    def __init__(self, databases: list[str], interval: float = 0.1) -> None:
        self.databases = databases
        self.interval = interval
        self.seen: dict[int, float] = {}
        self.total = 0.0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pg-backends-cpu", daemon=True)

    def __call__(self) -> float:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            return self._look(conn)

    def __enter__(self) -> BackendsCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(10)

    def _watch(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            while not self._done.wait(self.interval):
                self._look(conn)

    def _look(self, conn: psycopg.Connection[Any]) -> float:
        with self._lock:
            pids = [pid for (pid,) in conn.execute(_BACKENDS, (self.databases, PEEK_APPLICATION))]
            now = {int(pid): procs.cpu_seconds(int(pid)) for pid in pids}
            self.total += used_since(self.seen, now)
            self.seen = now
            return self.total


def used_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds the backends of `now` (pid -> CPU seconds so far) used since `before`: a new
    backend all of its CPU; a closed one, absent from `now`, nothing (never a negative share)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in now.items())


def server_description() -> str:
    """ "PostgreSQL <version> at <host>:<port>", for the report's machine lines."""
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            version = str(row[0]).split()[0] if row else "?"
            return f"PostgreSQL {version} at {conn.info.host}:{conn.info.port}"
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable ({exc})"
