"""The stages in order, each run beside its baseline from the same run. Their rows are built in
stage_rows.py (stages 1-7), capacity_report.py and scaleout_report.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import capacity, ceilings, fanout, http_api, latency, pg_workers, procs, relay_drain
from bench import stage_rows as rows
from bench.capacity_report import PG_STAGE, STAGE, capacity_rows, lock_note, pg_capacity_rows
from bench.history import HistorySizes, history_stage
from bench.history_report import history_rows, history_settings
from bench.pg_databases import METER, server_description, service_databases
from bench.pg_locks import LockWatch
from bench.priority import PrioritySizes, priority_rows, priority_settings, priority_stage
from bench.queues import QueueSizes, queue_types
from bench.report import Report
from bench.scaleout_report import queues_rows, scaleout_settings, workers_rows
from bench.stats import Spread
from bench.vhost import BenchVhost
from services.common.worker.settings import WorkerTuning

DEFAULT_STAGES = ("broker", "celery", "fanout", "relay", "http", "saga", "capacity")
# Run with --only: each adds minutes to the default run (history: its million orders of history;
# priority: needs the RabbitMQ 4.0 node of broker/ensure-rabbitmq4.sh beside the usual one).
OPT_IN_STAGES = ("queues", "workers", "history", "priority")
STAGES = DEFAULT_STAGES + OPT_IN_STAGES
NOT_RUN = Spread.of([])


@dataclass(frozen=True)
class Sizes:
    runs: int = 3
    broker_n: int = 10_000
    broker_single: int = 2_000
    celery_n: int = 5_000
    fanout: tuple[int, ...] = (1_000,)  # stage 3, `runs` runs each
    scale: tuple[int, ...] = (10_000,)  # stage 7, `scale_runs` runs each
    scale_runs: int = 1
    relay_rows: int = 20_000
    http_duration: float = 4.0
    http_connections: int = 16
    http_rate: float = 20.0
    saga_rate: float = 5.0
    saga_duration: float = 12.0
    capacity_runs: int = 3
    capacity_step: float = capacity.STEP_SECONDS
    queues: QueueSizes = field(default_factory=QueueSizes)
    workers_fanout: int = 2_000  # stage 10, `runs` runs per number of processes
    history: HistorySizes = field(default_factory=HistorySizes)  # stage 11
    priority: PrioritySizes = field(default_factory=PrioritySizes)  # stage 12
    only: frozenset[str] = frozenset(DEFAULT_STAGES)


def run_suite(
    vh: BenchVhost, tmp: Path, s: Sizes, report: Report, progress: Callable[[str], None]
) -> None:
    report.settings += _settings(s)
    if {"capacity", "workers", "history"} & s.only:
        report.machine.append(f"{server_description()}, a throwaway database per service")
    broker = _broker(vh, s, report, progress) if s.only & set(DEFAULT_STAGES) else None
    noop_cpu = bare_cpu = NOT_RUN
    if broker is not None:
        if {"celery", "fanout"} & s.only:
            noop_cpu = _workers(vh, tmp, s, report, progress, broker)
        if "relay" in s.only:
            _relay(vh, tmp, s, report, progress, broker)
        if "http" in s.only:
            bare_cpu = _http(tmp, s, report, progress)
        if "saga" in s.only:
            _saga(vh, tmp, s, report, progress, broker)
    if "capacity" in s.only:
        _capacity(tmp, s, report, progress, bare_cpu, noop_cpu)
    if "queues" in s.only:
        queues_rows(report, queue_types(tmp / "queues", s.queues, progress))
    if "workers" in s.only:
        n = s.workers_fanout
        workers_rows(report, pg_workers.worker_processes(vh, tmp, n, s.runs, progress))
    if "history" in s.only:
        queue_type = vh.topology.queue_type
        history_rows(report, history_stage(tmp, queue_type, s.history, progress))
    if "priority" in s.only:
        priority_rows(report, priority_stage(tmp, s.priority, progress))


def _settings(s: Sizes) -> list[str]:
    """What the report says about how it was measured."""
    w = WorkerTuning()
    common = [
        f"every figure: median of {s.runs} run(s), with min .. max",
        f"workers as `make up` runs them: pool {w.pool}, concurrency {w.concurrency}, prefetch "
        f"multiplier {w.prefetch_multiplier}; SQLite "
        "(WAL) per service",
    ]
    # What the default stages measured, when any of them ran.
    default = [
        f"broker ceiling: {s.broker_n} persistent 500-byte messages to the `orders` exchange "
        f"(bound to 2 queues), confirm window {ceilings.CONFIRM_WINDOW}; consume at prefetch "
        f"{ceilings.CONSUME_PREFETCH} with a manual ack each; {s.broker_single} publishes with "
        "one confirm at a time",
        f"Celery no-op: {s.celery_n} tasks; fan-out backlogs: {', '.join(map(str, s.fanout))} "
        f"events ({s.runs} runs), scale points {', '.join(map(str, s.scale))} events "
        f"({s.scale_runs} run(s) each); relay backlog: {s.relay_rows} rows",
        f"HTTP: {s.http_connections} keep-alive connections, {s.http_duration:.0f} s per run "
        f"after 1 s warm-up; fixed rate {s.http_rate:.0f} req/s; saga: {s.saga_rate:.0f} "
        f"orders/s for {s.saga_duration:.0f} s per run",
        f"capacity: {s.capacity_runs} ramp(s) of {s.capacity_step:.0f} s steps from "
        f"{capacity.FIRST_RATE:.0f} orders/s, x{capacity.STEP_FACTOR} per step, "
        f"{capacity.CONNECTIONS} paced keep-alive connections, every service on SQLite "
        f"(`{STAGE}`); then as many on PostgreSQL, a throwaway database per service "
        f"(`{PG_STAGE}`), its first ramp from the SQLite run's first capacity / "
        f"{capacity.STEP_FACTOR}^3 (a ramp failing before it sustains a step starts again that "
        "much lower, not below the first rate)",
    ]
    return [
        *common,
        *(default if s.only & set(DEFAULT_STAGES) else []),
        *scaleout_settings(s.only, s.queues, s.workers_fanout, s.runs),
        *([history_settings(s.history)] if "history" in s.only else []),
        *([priority_settings(s.priority)] if "priority" in s.only else []),
    ]


def _capacity(
    tmp: Path,
    s: Sizes,
    report: Report,
    progress: Callable[[str], None],
    bare_cpu: Spread,
    noop_cpu: Spread,
) -> None:
    """Stage 8 on SQLite, then on PostgreSQL. The PostgreSQL ramps start near the SQLite capacity
    (as the SQLite run's later ramps do), which keeps the stage's second run short."""
    runs, step = s.capacity_runs, s.capacity_step
    with procs.system(tmp / "capacity") as sys_:
        progress(f"stage 8: capacity on SQLite, {runs} ramp(s) of paced clients")
        sqlite = capacity.capacity(sys_, runs, step, progress)
    capacity_rows(report, sqlite, bare_cpu, noop_cpu)
    first = sqlite.later_start()
    with (
        service_databases("bench") as dbs,
        procs.system(tmp / "capacity-pg", dbs.env) as sys_,
        dbs.backends_cpu() as backends,
    ):
        progress(f"stage 8: capacity on PostgreSQL, {runs} ramp(s), from {first:.0f} orders/s")
        meters: fanout.Meters = {METER: backends}
        label = "capacity PostgreSQL"
        locks = LockWatch(dbs.names)
        locks.start()
        try:
            pg = capacity.capacity(sys_, runs, step, progress, first, meters, label)
        finally:
            locks.finish()
    pg_capacity_rows(report, pg, sqlite, bare_cpu, noop_cpu)
    report.notes.append(note := lock_note(label, locks.shares()))
    progress(note)


def _broker(
    vh: BenchVhost, s: Sizes, report: Report, progress: Callable[[str], None]
) -> ceilings.BrokerCeiling:
    """Stage 1, the baseline of most others (its figures are NOT_RUN when skipped)."""
    if "broker" in s.only:
        progress("stage 1: broker ceiling (raw pika)")
        broker = ceilings.broker_ceiling(vh, s.broker_n, s.broker_single, s.runs)
    else:
        broker = ceilings.BrokerCeiling(NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN)
    rows.broker_rows(report, broker)
    return broker


def _workers(
    vh: BenchVhost,
    tmp: Path,
    s: Sizes,
    report: Report,
    progress: Callable[[str], None],
    broker: ceilings.BrokerCeiling,
) -> Spread:
    """Stages 2, 3 and 7's fan-out scale points: they share one set of worker processes.
    Returns the no-op's CPU per task."""
    with procs.system(tmp / "workers") as sys_:
        noop = noop_cpu = NOT_RUN
        if "celery" in s.only:
            progress("stage 2: Celery no-op ceiling")
            noop, noop_cpu = ceilings.celery_ceiling(vh, sys_, s.celery_n, s.runs)
        rows.celery_rows(report, noop, noop_cpu, broker)
        vh.purge()
        scale: dict[int, fanout.FanoutResult] = {}
        points = [(n, s.runs, "3 fan-out") for n in s.fanout]
        points += [(n, s.scale_runs, "7 scale fan-out") for n in s.scale if n not in s.fanout]
        for n, runs, name in points if "fanout" in s.only else ():
            progress(f"stage {name[0]}: fan-out of {n} order.placed, {runs} run(s)")
            scale[n] = res = fanout.fanout(vh, sys_, n, runs)
            rows.fanout_rows(report, f"{name} N={n}", res, (noop, noop_cpu), broker)
    rows.scale_rows(report, scale)
    return noop_cpu


def _relay(
    vh: BenchVhost,
    tmp: Path,
    s: Sizes,
    report: Report,
    progress: Callable[[str], None],
    broker: ceilings.BrokerCeiling,
) -> None:
    with procs.system(tmp / "relay") as sys_:
        progress(f"stage 7: relay drain of {s.relay_rows} outbox rows")
        drains = [relay_drain.relay_drain(vh, sys_, s.relay_rows) for _ in range(s.runs)]
    rows.relay_rows(report, s.relay_rows, drains, broker)


def _http(tmp: Path, s: Sizes, report: Report, progress: Callable[[str], None]) -> Spread:
    """Stage 4; returns the bare endpoint's CPU per POST."""
    with procs.system(tmp / "http") as sys_:
        progress("stage 4: HTTP API vs bare FastAPI")
        h = http_api.http_api(sys_, s.runs, s.http_rate, s.http_duration, s.http_connections)
    rows.http_rows(report, h, s.http_rate)
    errors = sum(sum(v) for k, v in h.figures.items() if k.endswith(".errors"))
    report.notes.append(f"HTTP stage: {errors:.0f} non-2xx answers or connection errors in all")
    return h.spread("bare.sat.cpu_ms")


def _saga(
    vh: BenchVhost,
    tmp: Path,
    s: Sizes,
    report: Report,
    progress: Callable[[str], None],
    broker: ceilings.BrokerCeiling,
) -> None:
    with procs.system(tmp / "saga") as sys_:
        progress(f"stages 5/6: outbox and saga latency at {s.saga_rate:.0f} orders/s")
        lat = latency.saga_latency(vh, sys_, s.runs, s.saga_rate, s.saga_duration)
    rows.outbox_rows(report, lat, broker)
    rows.saga_rows(report, lat)
