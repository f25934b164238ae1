"""The system's processes for the bench: the Procfile's own commands, started one by one.

Reuses the test suite's process runner (tests/support/system.py): private SQLite files, mail
folder and ports per run, each process in its own process group with its log in a file. The
workers get the *default* pool/concurrency/prefetch (the tests lower them), so the bench measures
what `make up` runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from services.common.topology import WORKER_SERVICES
from services.common.worker.settings import WorkerTuning
from tests.support.ports import free_port
from tests.support.processes import PYTHON, ServiceProcess
from tests.support.system import System, running_system

__all__ = ["free_port"]


def default_worker_env() -> dict[str, str]:
    """Every worker at the default concurrency (the test system lowers the shared setting)."""
    env = {
        f"{svc.upper()}_WORKER_CONCURRENCY": str(WorkerTuning().concurrency)
        for svc in WORKER_SERVICES
    }
    env["ORDERS_EXPIRY_CHECK_SECONDS"] = "10"
    return env


@contextlib.contextmanager
def system(tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[System]:
    """Databases initialised (and stock made plentiful), no process started yet."""
    tmp.mkdir(parents=True, exist_ok=True)
    with running_system(tmp, (), {**default_worker_env(), **(extra_env or {})}) as sys_:
        plenty_of_stock(sys_)
        yield sys_


def plenty_of_stock(sys_: System) -> None:
    """Every SKU in stock a billion times, so the bench's orders are all reserved."""
    engine = create_engine(sys_.db_url("inventory"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE stock SET on_hand = 1000000000"))
    engine.dispose()


def start(sys_: System, *names: str) -> None:
    for name in names:
        sys_.start(name)
    for name in names:
        sys_.wait_ready(name)


def stop(sys_: System, *names: str) -> None:
    for name in names:
        proc = sys_.procs.pop(name, None)
        if proc is not None:
            proc.stop()


def module_process(sys_: System, name: str, module: str, **env: str) -> ServiceProcess:
    """A bench-only process (`python -m bench.<x>`) with the system's environment (+ `env`)."""
    argv = [PYTHON, "-m", module]
    proc = ServiceProcess(name, argv, sys_.tmp / "logs", env={**sys_.env, **env})
    sys_.procs[name] = proc.start()
    return proc


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the Celery pool, if any), in MB."""
    total = 0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children (the pool)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            kids = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            for kid in kids:
                out += [int(kid), *_children(int(kid))]
    return out
