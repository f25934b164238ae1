"""`python -m bench.email_handler`: the email handler's CPU per mail, without the worker around it.

`send_order_mails` with the email bootstrap's objects, as a pool thread of the worker calls it,
for N real `order.placed` events one after the other (after a warm-up), against a fresh SQLite
file and the SMTP sink started with the Procfile's command on a free port. It prints this
process's CPU per mail (user + system: nothing else runs in it) and the sink's. The fan-out stage
measures the whole email worker, where the ingress and Celery are most of the CPU; this measures
what the handler itself costs, and where to point a profiler (`--pause` prints both process ids
and waits before each run). Log lines go to a file, as the worker's do.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from bench.messages import order_placed
from bench.procs import cpu_seconds
from services.common.events import Envelope, OrderPlaced
from services.email.bootstrap import Container, bootstrap
from services.email.manage import create_schema
from services.email.send import send_order_mails
from services.email.settings import Settings
from tests.support.ports import free_port
from tests.support.processes import PYTHON, ServiceProcess


@dataclass(frozen=True)
class Run:
    mails: int
    cpu: float  # seconds, this process
    user: float
    system: float
    sink: float  # seconds, the sink process
    wall: float

    def per_mail(self, seconds: float) -> float:
        return seconds / self.mails * 1000

    def line(self) -> str:
        return (
            f"handler CPU per mail {self.per_mail(self.cpu):.3f} ms "
            f"(user {self.per_mail(self.user):.3f}, system {self.per_mail(self.system):.3f}); "
            f"sink CPU per mail {self.per_mail(self.sink):.3f} ms; "
            f"wall per mail {self.per_mail(self.wall):.3f} ms"
        )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.email_handler", description=__doc__)
    p.add_argument("--mails", type=int, default=3000, help="events per run (one mail each)")
    p.add_argument("--warmup", type=int, default=200, help="events before each run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pause", action="store_true", help="print the pids, wait 3 s before a run")
    p.add_argument("--keep", action="store_true", help="keep the database, mails and log")
    return p.parse_args(argv)


def measure(container: Container, sink: ServiceProcess, mails: int, warmup: int) -> Run:
    events = [order_placed(i) for i in range(warmup + mails)]
    for event in events[:warmup]:
        _send(container, event)
    sink_before, times_before, wall_before = cpu_seconds(sink.pid), os.times(), time.perf_counter()
    for event in events[warmup:]:
        _send(container, event)
    wall, times = time.perf_counter() - wall_before, os.times()
    user, system = times.user - times_before.user, times.system - times_before.system
    time.sleep(0.2)  # the sink's last reply is out; let it finish writing the mail
    return Run(mails, user + system, user, system, cpu_seconds(sink.pid) - sink_before, wall)


def _send(c: Container, event: Envelope[OrderPlaced]) -> None:
    send_order_mails(event, c.store, c.renderer, c.sender, c.letterhead)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-email-handler-"))
    try:
        runs = run_all(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    cpu = statistics.median(r.per_mail(r.cpu) for r in runs)
    sink_cpu = statistics.median(r.per_mail(r.sink) for r in runs)
    print(f"median of {len(runs)}: handler {cpu:.3f} ms, sink {sink_cpu:.3f} ms CPU per mail")
    if args.keep:
        print(f"database, mails and log in {tmp}")
    return 0


def run_all(args: argparse.Namespace, tmp: Path) -> list[Run]:
    port = free_port()
    argv_sink = [PYTHON, "-m", "services.email.sink", "--dir", str(tmp / "mail")]
    argv_sink += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    sink = ServiceProcess("smtp-sink", argv_sink, tmp, env={"EMAIL_SINK_METRICS_PORT": "0"})
    logging.basicConfig(
        filename=tmp / "email-handler.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s",
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp}/email.db",
        smtp_url=f"smtp://127.0.0.1:{port}",
        broker_password=SecretStr(""),  # the handler never talks to the broker
    )
    container = bootstrap(settings)
    create_schema(container.db)
    runs: list[Run] = []
    try:
        sink.start().wait_for_log("SMTP sink listening on")
        for number in range(1, args.runs + 1):
            if args.pause:
                print(f"handler pid {os.getpid()}, sink pid {sink.pid}", flush=True)
                time.sleep(3)
            runs.append(measure(container, sink, args.mails, args.warmup))
            print(f"run {number}: {runs[-1].line()}", flush=True)
    finally:
        sink.stop()
        container.close()
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
