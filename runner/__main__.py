"""Run the system locally from the Procfile, and control its processes one by one.

python -m runner [up] [--only NAME ...]     every process (or only these) in the foreground
python -m runner status                     each process: RUNNING (pid, uptime), STOPPED, EXITED
python -m runner stop|start|restart NAME    one process (or several, or `all`); the rest run on
python -m runner databases                  every service's schema and demo data (idempotent)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.config import DEFAULT_RUN_DIR, ROOT, RunDir
from runner.control import COMMANDS, control
from runner.databases import init_databases
from runner.up import up

STOP_GRACE_SECONDS = 20


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="config, socket, logs of a run"
    )
    common.add_argument("--ready-timeout", type=float, default=120.0)
    parser = argparse.ArgumentParser(
        prog="python -m runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", parents=[common], help="start everything (make up)")
    run.add_argument("--procfile", type=Path, default=ROOT / "Procfile")
    run.add_argument("--only", nargs="+", metavar="NAME", help="start only these processes")
    run.add_argument(
        "--stop-grace",
        type=int,
        default=STOP_GRACE_SECONDS,
        help="seconds between SIGTERM and SIGKILL when a process stops",
    )
    commands.add_parser("databases", help="every service's schema and demo data (idempotent)")
    for name, help in COMMANDS.items():
        ctl = commands.add_parser(name, parents=[common], help=help)
        ctl.add_argument("names", nargs="*" if name == "status" else "+", metavar="NAME")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv or ["up"])
    if args.command == "databases":
        return init_databases()
    run = RunDir(args.run_dir.resolve())
    if args.command == "up":
        return up(args.procfile, run, args.only, args.stop_grace, args.ready_timeout)
    return control(run, args.command, args.names, args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
