"""Start every process of the Procfile under honcho, wait until all are ready, print the panel.

Ctrl-C (SIGINT) or SIGTERM stops everything: honcho sends SIGTERM to each process group (a warm
shutdown for the Celery workers: running tasks finish, unstarted messages go back to their queues)
and SIGKILL to whatever is still running after `STOP_GRACE_SECONDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

import honcho.manager
from honcho.environ import parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

from runner.panel import render_panel
from runner.readiness import wait_until_ready

STOP_GRACE_SECONDS = 20
ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner", description=__doc__)
    parser.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    parser.add_argument("--only", nargs="*", help="start only these Procfile entries")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    procfile = parse_procfile(args.procfile.read_text())
    names = args.only or list(procfile.processes)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"

    honcho.manager.KILL_WAIT = STOP_GRACE_SECONDS  # honcho reads this module global
    manager = Manager(Printer(sys.stdout))
    for name in names:
        manager.add_process(name, procfile.processes[name], env=env, cwd=str(ROOT))

    def announce() -> None:
        problems = wait_until_ready(names, timeout=args.ready_timeout)
        if problems:
            print(f"\n[runner] NOT READY after {args.ready_timeout:.0f}s:", flush=True)
            for problem in problems:
                print(f"[runner]   {problem}", flush=True)
        else:
            print(render_panel(), flush=True)

    threading.Thread(target=announce, name="readiness", daemon=True).start()
    manager.loop()
    # Stopped with Ctrl-C or SIGTERM (honcho reports 130/143): that is the normal way out.
    return 0 if manager.returncode in (None, 130, 143) else manager.returncode


if __name__ == "__main__":
    sys.exit(main())
