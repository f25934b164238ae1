"""Scenarios 3, 4 and 10: processes die in mid-stream (kill -9, or SIGTERM of everything)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.reliability.harness import FaultRun
from tests.support.polling import wait_until
from tests.support.system import System

pytestmark = pytest.mark.reliability

WORKERS = ("inventory-worker", "email-worker", "orders-worker")
# uvicorn shuts the API down gracefully, then raises the SIGTERM it caught again, so that the
# exit status tells a supervisor why it stopped. Every other process exits 0.
CLEAN_SIGTERM_EXIT = {"orders-api": -signal.SIGTERM}


def pool_children(system: System, name: str) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(system.procs[name].pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in out.split()]


def running_pid(pid: int) -> bool:
    """A zombie (dead, not yet reaped by its parent) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_9_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not running_pid(pid), timeout=30, message=f"pid {pid} dead")


def test_kill_9_each_worker_in_turn(fault_run: Callable[..., FaultRun]) -> None:
    """The default threads pool: the worker is one process, so kill -9 takes the consumer and
    every running task with it. Each worker in turn, restarted each time."""
    with fault_run("3a. kill -9 each worker (threads pool)", fault="kill -9, restart") as run:
        run.start_traffic()
        for n, name in enumerate(WORKERS):
            run.at(0.2 + 0.2 * n)
            run.system.procs[name].kill9()
            if name == "email-worker":
                run.note_mails_in_flight()  # may have died between SMTP's 250 and recording it
            run.system.restart(name)
        run.cleared()
        run.finish()


def test_kill_9_pool_child_then_main_process(fault_run: Callable[..., FaultRun]) -> None:
    """The prefork pool: first a pool child dies mid-task (the main process sees the worker
    lost and the message comes back), then the main process with all its children."""
    prefork = {"WORKER_POOL": "prefork"}  # every worker
    with fault_run(
        "3b. kill -9 pool child, then main (prefork pool)",
        fault="kill -9 child; kill -9 main, restart",
        extra_env=prefork,
    ) as run:
        run.start_traffic()
        for n, name in enumerate(WORKERS):
            run.at(0.1 + 0.15 * n)
            children = wait_until(partial(pool_children, run.system, name), timeout=30)
            kill_9_and_wait(children[0])
            if name == "email-worker":
                run.note_mails_in_flight()
        for n, name in enumerate(WORKERS):
            run.at(0.55 + 0.15 * n)
            run.system.procs[name].kill9()
            if name == "email-worker":
                run.note_mails_in_flight()
            run.system.restart(name)
        run.cleared()
        run.finish()


def test_kill_9_api_and_relay_after_commits(fault_run: Callable[..., FaultRun]) -> None:
    """The API dies with requests in flight (clients retry with their Idempotency-Key), then the
    relay dies with outbox rows committed but not yet published."""
    with fault_run("4. kill -9 orders API, then relay", fault="kill -9, restart") as run:
        run.start_traffic()
        run.at(0.3)
        run.system.procs["orders-api"].kill9()
        run.system.restart("orders-api")
        run.at(0.6)
        run.system.procs["orders-relay"].kill9()
        run.system.restart("orders-relay")
        run.cleared()
        run.finish()


def test_sigterm_every_process_then_restart(fault_run: Callable[..., FaultRun]) -> None:
    """Every process must shut down by itself (a warm shutdown for the workers: running tasks
    finish, the rest stays queued) and exit 0, within a generous grace: none may need SIGKILL."""
    with fault_run("10. SIGTERM every process, restart", fault="SIGTERM all, restart") as run:
        run.start_traffic()
        run.at(0.4)
        names = list(run.system.procs)
        exits = run.system.terminate_all(grace=60)
        wanted = {name: CLEAN_SIGTERM_EXIT.get(name, 0) for name in names}
        assert exits == wanted, f"exit codes (None: SIGKILLed): {exits}"
        assert "Finished server process" in run.system.procs["orders-api"].log()
        for name in names:
            run.system.start(name)
        for name in names:
            run.system.wait_ready(name)
        run.cleared()
        run.finish()
