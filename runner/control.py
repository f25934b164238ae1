"""Stop, start, restart one process of a running `make up`, or show them all, from any terminal.

The commands go to the run's supervisord through `supervisorctl` (over the run's unix socket,
which only its owner can open). After `start` and `restart` they wait for the processes'
readiness probes, so "ready" means what it means in the panel: a worker consumes its queues.
"""

from __future__ import annotations

import configparser
import socket
import subprocess
import sys

from runner.config import RunDir
from runner.readiness import PROBES, wait_until_ready

COMMANDS = {
    "status": "show each process: RUNNING (pid, uptime), STOPPED, EXITED (exit status)",
    "stop": "stop processes (SIGTERM, SIGKILL after the grace); the others keep running",
    "start": "start stopped or exited processes and wait until they are ready",
    "restart": "stop, then start, and wait until they are ready",
}


def answers(run: RunDir) -> bool:
    """Does a supervisord listen on this run's control socket?"""
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(run.socket))
        except OSError:
            return False
    return True


def control(run: RunDir, command: str, names: list[str], ready_timeout: float) -> int:
    if not answers(run):
        print(
            f"shopflow is not running from {run.path} (no supervisord on {run.socket}); "
            "start it with `make up`",
            file=sys.stderr,
        )
        return 1
    argv = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(run.config)]
    code = subprocess.run([*argv, command, *names], check=False).returncode
    if code != 0 or command not in ("start", "restart"):
        return code
    return _report_ready(_expand(run, names), ready_timeout)


def _expand(run: RunDir, names: list[str]) -> list[str]:
    if "all" not in names:
        return names
    config = configparser.RawConfigParser()
    config.read(run.config)
    return [section.removeprefix("program:") for section in config.sections()]


def _report_ready(names: list[str], timeout: float) -> int:
    probed = [name for name in names if name in PROBES]
    if not probed:
        return 0
    problems = wait_until_ready(probed, timeout=timeout)
    for problem in problems:
        print(f"NOT READY after {timeout:.0f}s: {problem}", file=sys.stderr)
    if not problems:
        print(f"ready: {', '.join(probed)}")
    return 1 if problems else 0
