"""`python -m bench` (or `make bench`): every stage with its baseline, a table, docs/benchmarks.md.

python -m bench                      # the default run (a few minutes)
python -m bench --quick              # a smoke run: tiny sizes, one run each, nothing written
python -m bench --scale-max 100000   # add the 100k points to the scale stage
python -m bench --only queues,workers  # the scaling-out stages (not in the default run)
python -m bench --only history       # a million orders of history against none (nor this one)
python -m bench --only priority      # express orders behind a backlog: docs/priorities.md
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench.history import DATABASES, HistorySizes
from bench.machine import describe, load_average
from bench.priority import PrioritySizes
from bench.queues import QueueSizes
from bench.report import Report, text_table, write_markdown
from bench.suite import DEFAULT_STAGES, OPT_IN_STAGES, STAGES, Sizes, run_suite
from bench.vhost import throwaway_vhost

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
# A stage run alone (`--only NAME`) whose figures live in a document of their own.
STAGE_DOCS = {"priority": DOC.with_name("priorities.md")}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 run, do not write docs")
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median, min, max)")
    p.add_argument("--sizes", default="1000", help="stage 3 fan-out backlog sizes")
    p.add_argument("--scale", default="10000", help="stage 7 fan-out backlog sizes")
    p.add_argument("--scale-runs", type=int, default=1, help="runs per stage 7 size")
    p.add_argument("--scale-max", type=int, default=0, help="add this size (e.g. 100000)")
    p.add_argument("--relay-rows", type=int, default=20_000, help="outbox backlog for the relay")
    p.add_argument("--http-rate", type=float, default=20.0, help="fixed moderate rate, req/s")
    p.add_argument("--saga-rate", type=float, default=5.0, help="orders/s for stages 5 and 6")
    p.add_argument("--duration", type=float, default=4.0, help="seconds per HTTP load run")
    p.add_argument(
        "--history-orders", type=int, default=1_000_000, help="stage 11: orders of history"
    )
    p.add_argument(
        "--history-rate", type=float, default=10.0, help="stage 11: orders/s of every step"
    )
    p.add_argument(
        "--history-databases",
        default=",".join(DATABASES),
        help="stage 11: the databases to run it on",
    )
    p.add_argument(
        "--only",
        default=",".join(DEFAULT_STAGES),
        help=f"stages to run: {','.join(STAGES)} ({', '.join(OPT_IN_STAGES)} only when named)",
    )
    p.add_argument("--out", type=Path, default=DOC, help="markdown file to update")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--keep", action="store_true", help="keep the processes' logs and databases")
    return p.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    only = frozenset(args.only.split(","))
    if only - set(STAGES):
        raise SystemExit(f"unknown stage(s): {', '.join(sorted(only - set(STAGES)))}")
    databases = tuple(d for d in args.history_databases.split(",") if d)
    if set(databases) - set(DATABASES):
        raise SystemExit(
            f"unknown database(s): {', '.join(sorted(set(databases) - set(DATABASES)))}"
        )
    history = HistorySizes(orders=args.history_orders, rate=args.history_rate, databases=databases)
    if args.quick:
        return Sizes(
            runs=1,
            broker_n=2000,
            broker_single=300,
            celery_n=1000,
            fanout=(200,),
            scale=(400,),
            relay_rows=5000,  # the windowed relay drains 500 rows between two samples
            http_duration=2.0,
            http_rate=args.http_rate,
            saga_rate=args.saga_rate,
            saga_duration=3.0,
            capacity_runs=1,
            capacity_step=2.0,
            queues=QueueSizes(runs=1, confirms=100, relay_rows=2000, fanout=200),
            workers_fanout=300,
            history=replace(history, orders=min(history.orders, 2000), seconds=3.0, runs=1),
            priority=PrioritySizes(standard=100, express=3),
            only=only,
        )
    fanout = tuple(int(n) for n in args.sizes.split(",") if n)
    scale = tuple(int(n) for n in args.scale.split(",") if n)
    if args.scale_max and args.scale_max not in scale:
        scale = (*scale, args.scale_max)
    return Sizes(
        runs=args.runs,
        fanout=fanout,
        scale=scale,
        scale_runs=args.scale_runs,
        relay_rows=max(args.relay_rows, args.scale_max),
        http_duration=args.duration,
        http_rate=args.http_rate,
        saga_rate=args.saga_rate,
        queues=QueueSizes(runs=args.runs),
        history=history,
        priority=PrioritySizes(runs=args.runs),
        only=only,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sizes = sizes_from(args)
    only_some = sizes.only != frozenset(DEFAULT_STAGES)
    began = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="shopflow-bench-"))
    report = Report(f"Results of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    ok = False
    try:
        with throwaway_vhost() as vh:
            report.machine = describe(vh)
            report.machine.append(f"load average before the run: {load_average()}")
            run_suite(vh, tmp, sizes, report, progress=lambda m: print(m, flush=True))
            report.machine.append(f"load average after the run: {load_average()}")
        ok = True
    finally:
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs and databases kept in {tmp}", file=sys.stderr)
    elapsed = time.monotonic() - began
    command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    report.settings.insert(0, f"command: `{command.strip()}`, wall time {elapsed / 60:.1f} min")
    print()
    print(text_table(report))
    for line in [*report.settings, *report.notes]:
        print(f"- {line}")
    out = STAGE_DOCS.get(",".join(sorted(sizes.only)), args.out if not only_some else None)
    if not (args.quick or args.no_write) and out is not None:
        write_markdown(report, out)
        print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
