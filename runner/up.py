"""`make up`: every Procfile process under supervisord, their logs in this terminal, the panel.

supervisord owns the processes: one that exits or crashes stays down (`python -m runner status`
shows its exit) while the others keep running, and each can be stopped, started and restarted
on its own (runner/control.py). This process is only the foreground face of the run. It starts
supervisord in a process group of its own, so the terminal's signals reach this process alone
(supervisord would take a SIGHUP from a closed terminal as "reload" and restart everything), and
turns each way a run can end into one SIGTERM to supervisord:

- Ctrl-C (SIGINT), SIGTERM, SIGHUP;
- nobody reads stdout any more (`make up | tee up.log` after tee died, `make up | head`);
- this process dies without cleaning up (even SIGKILL): the kernel sends supervisord SIGTERM
  (PR_SET_PDEATHSIG).

On SIGTERM supervisord stops every process: SIGTERM first (a warm shutdown for the Celery
workers), SIGKILL to the process group of whatever still runs after the grace.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from types import FrameType

from pydantic import ValidationError

from runner.config import ROOT, RunDir, read_procfile, write_config
from runner.control import answers
from runner.output import Follow, Output
from runner.panel import render_panel
from runner.readiness import wait_until_ready

SUPERVISOR = "supervisor"  # the prefix of supervisord's own lines (spawned, exited, stopped)
_SUPERVISOR_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.1


def up(
    procfile: Path, run: RunDir, only: list[str] | None, grace: int, ready_timeout: float
) -> int:
    commands = read_procfile(procfile)
    unknown = sorted(set(only or ()) - set(commands))
    if unknown:
        print(f"not in {procfile.name}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if answers(run):
        print(f"already running from {run.path}: `python -m runner status`", file=sys.stderr)
        return 1
    names = only or list(commands)
    try:
        write_config(run, commands, ROOT, names, grace)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    output = Output(sys.stdout, [SUPERVISOR, *commands])
    follows = [Follow(run.supervisor_log, SUPERVISOR)] + [Follow(run.log(n), n) for n in commands]

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, request_stop)
    supervisord = _start_supervisord(run)
    ready = threading.Thread(target=_announce, args=(output, names, ready_timeout), daemon=True)
    ready.start()
    while not stop.is_set() and supervisord.poll() is None and not output.reader_gone():
        _pump(follows, output)
        stop.wait(POLL_SECONDS)
    return _shut_down(supervisord, follows, output, grace)


def _start_supervisord(run: RunDir) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    with run.supervisor_log.open("ab") as log:  # its crash traces, if it ever has one
        return subprocess.Popen(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(run.config)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=die_with_parent,
        )


def _announce(output: Output, names: list[str], timeout: float) -> None:
    try:
        problems = wait_until_ready(names, timeout=timeout)
    except ValidationError as exc:  # .env lacks a setting: the processes will say so too
        output.text(f"[runner] cannot check readiness, the settings are incomplete:\n{exc}")
        return
    if problems:
        output.text(f"\n[runner] NOT READY after {timeout:.0f}s:")
        for problem in problems:
            output.text(f"[runner]   {problem}")
    else:
        output.text(render_panel())


def _pump(follows: list[Follow], output: Output) -> None:
    for follow in follows:
        for line in follow.read_lines():
            if follow.name == SUPERVISOR:  # the prefix has the time already
                line = _SUPERVISOR_TIMESTAMP.sub("", line)
            output.line(follow.name, line)


def _shut_down(
    supervisord: subprocess.Popen[bytes], follows: list[Follow], output: Output, grace: int
) -> int:
    if supervisord.poll() is not None:
        _pump(follows, output)
        output.text(f"[runner] supervisord exited on its own ({supervisord.returncode})")
        return 1
    why = "nobody reads stdout any more" if output.closed else "asked to stop"
    _note(output, f"[runner] {why}: stopping every process (SIGKILL after {grace}s)")
    supervisord.terminate()
    deadline = time.monotonic() + grace + 15
    while supervisord.poll() is None and time.monotonic() < deadline:
        _pump(follows, output)
        time.sleep(POLL_SECONDS)
    _pump(follows, output)
    if supervisord.poll() is None:
        _note(output, "[runner] supervisord did not stop in time: killing it")
        supervisord.kill()
        supervisord.wait()
        return 1
    return 0


def _note(output: Output, text: str) -> None:
    """A note to the terminal: on stdout while someone reads it, else on stderr."""
    output.text(text)
    if output.closed:
        with suppress(OSError):
            print(text, file=sys.stderr, flush=True)
