"""The stages in order, each paired with its baseline, turned into the report's rows."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import capacity, ceilings, fanout, http_api, latency, pg_workers, procs, relay_drain
from bench.capacity_report import capacity_rows
from bench.queues import QueueSizes, queue_types
from bench.report import Report, Row
from bench.scaleout_report import queues_rows, scaleout_settings, workers_rows
from bench.stats import Spread, ratio
from bench.vhost import BenchVhost
from services.common.worker.settings import WorkerTuning

DEFAULT_STAGES = ("broker", "celery", "fanout", "relay", "http", "saga", "capacity")
OPT_IN_STAGES = ("queues", "workers")  # run with --only: each adds minutes to the default run
STAGES = DEFAULT_STAGES + OPT_IN_STAGES
NOT_RUN = Spread.of([])
# CPU per unit, at most this many times its baseline's in the same run
CPU_GOALS = {"inventory": 3.0, "email": 5.0}  # x the Celery no-op's CPU per task
API_CPU_GOAL = 2.5  # x the bare FastAPI endpoint's CPU per POST


HOPS = (
    ("orders_relay", "orders outbox commit -> marked published"),
    ("inventory_worker", "-> inventory decided (ingress, task, commit)"),
    ("inventory_relay", "inventory outbox commit -> marked published"),
    ("orders_worker", "-> order CONFIRMED (ingress, task, commit)"),
)


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
    only: frozenset[str] = frozenset(DEFAULT_STAGES)


def _at_least(value: Spread, goal: float) -> bool:
    return value.median >= goal


def run_suite(
    vh: BenchVhost, tmp: Path, s: Sizes, report: Report, progress: Callable[[str], None]
) -> None:
    report.settings += _settings(s)
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
        with procs.system(tmp / "capacity") as sys_:
            progress(f"stage 8: capacity, {s.capacity_runs} ramp(s) of paced clients")
            res = capacity.capacity(sys_, s.capacity_runs, s.capacity_step, progress)
        capacity_rows(report, res, bare_cpu, noop_cpu)
    if "queues" in s.only:
        queues_rows(report, queue_types(tmp / "queues", s.queues, progress))
    if "workers" in s.only:
        n = s.workers_fanout
        workers_rows(report, pg_workers.worker_processes(vh, tmp, n, s.runs, progress))


def _settings(s: Sizes) -> list[str]:
    """What the report says about how it was measured."""
    w = WorkerTuning()
    return [
        f"every figure: median of {s.runs} run(s), with min .. max",
        f"workers as `make up` runs them: pool {w.pool}, concurrency {w.concurrency}, prefetch "
        f"multiplier {w.prefetch_multiplier}, ingress prefetch {w.ingress_prefetch}; SQLite "
        "(WAL) per service",
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
        f"{capacity.CONNECTIONS} paced keep-alive connections",
        *scaleout_settings(s.only, s.queues, s.workers_fanout, s.runs),
    ]


def _broker(
    vh: BenchVhost, s: Sizes, report: Report, progress: Callable[[str], None]
) -> ceilings.BrokerCeiling:
    """Stage 1, the baseline of most others (its figures are NOT_RUN when skipped)."""
    if "broker" in s.only:
        progress("stage 1: broker ceiling (raw pika)")
        broker = ceilings.broker_ceiling(vh, s.broker_n, s.broker_single, s.runs)
    else:
        broker = ceilings.BrokerCeiling(NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN)
    add = report.add
    add(Row("1 broker", "publish, confirm window", "msg/s", broker.publish_windowed))
    add(Row("1 broker", "publish, one confirm at a time", "msg/s", broker.publish_one_by_one))
    add(Row("1 broker", "publish latency p50 (one at a time)", "ms", broker.publish_p50_ms))
    add(Row("1 broker", "publish latency p99 (one at a time)", "ms", broker.publish_p99_ms))
    add(Row("1 broker", "consume, manual ack", "msg/s", broker.consume))
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
        _celery_rows(report, noop, noop_cpu, broker)
        vh.purge()
        scale: dict[int, fanout.FanoutResult] = {}
        points = [(n, s.runs, "3 fan-out") for n in s.fanout]
        points += [(n, s.scale_runs, "7 scale fan-out") for n in s.scale if n not in s.fanout]
        for n, runs, name in points if "fanout" in s.only else ():
            progress(f"stage {name[0]}: fan-out of {n} order.placed, {runs} run(s)")
            scale[n] = res = fanout.fanout(vh, sys_, n, runs)
            _fanout_rows(report, f"{name} N={n}", res, (noop, noop_cpu), broker)
    _scale_rows(report, scale)
    return noop_cpu


def _celery_rows(
    report: Report, noop: Spread, noop_cpu: Spread, broker: ceilings.BrokerCeiling
) -> None:
    report.add(
        Row("2 celery", "no-op tasks", "tasks/s", noop, "raw consume", ratio(noop, broker.consume))
    )
    report.add(Row("2 celery", "no-op worker CPU per task", "ms", noop_cpu))


def _fanout_rows(
    report: Report,
    stage: str,
    res: fanout.FanoutResult,
    noop: tuple[Spread, Spread],
    broker: ceilings.BrokerCeiling,
) -> None:
    """Each worker's event rate and CPU, against the Celery no-op (rate, CPU) and raw consume."""
    noop_rate, noop_cpu = noop
    add = report.add
    for svc in fanout.WORKERS:
        rate = res.spread(svc)
        r = ratio(rate, noop_rate)
        add(Row(stage, f"{svc} events", "ev/s", rate, "Celery no-op", r, ">= 0.5", r >= 0.5))
        add(Row(stage, f"{svc} events", "ev/s", rate, "raw consume", ratio(rate, broker.consume)))
        cpu = Spread.of(res.cpu_ms[svc])
        r, goal = ratio(cpu, noop_cpu), CPU_GOALS[svc]
        add(
            Row(
                stage,
                f"{svc} worker CPU per event",
                "ms",
                cpu,
                "no-op CPU per task (ratio: ours / no-op)",
                r,
                f"<= {goal:g}",
                None if math.isnan(r) else r <= goal,
            )
        )


def _relay(
    vh: BenchVhost,
    tmp: Path,
    s: Sizes,
    report: Report,
    progress: Callable[[str], None],
    broker: ceilings.BrokerCeiling,
) -> None:
    add = report.add
    with procs.system(tmp / "relay") as sys_:
        progress(f"stage 7: relay drain of {s.relay_rows} outbox rows")
        drains = [relay_drain.relay_drain(vh, sys_, s.relay_rows) for _ in range(s.runs)]
    rates = Spread.of([d.rate for d in drains])
    for baseline, ceiling in (
        ("publish, confirm window (the ceiling)", broker.publish_windowed),
        ("one-at-a-time publish", broker.publish_one_by_one),
    ):
        stage = f"7 relay N={s.relay_rows}"
        add(Row(stage, "outbox rows published", "rows/s", rates, baseline, ratio(rates, ceiling)))
    halves = Spread.of([d.half_rates()[1] / d.half_rates()[0] for d in drains])
    add(
        Row(
            f"7 relay N={s.relay_rows}",
            "rate, 2nd half / 1st half",
            "x",
            halves,
            "",
            math.nan,
            ">= 0.8 (flat)",
            None if math.isnan(halves.median) else halves.median >= 0.8,
        )
    )
    growth = Spread.of([d.rss_growth[1] - d.rss_growth[0] for d in drains])
    add(Row(f"7 relay N={s.relay_rows}", "relay RSS growth over the drain", "MB", growth))


def _http(tmp: Path, s: Sizes, report: Report, progress: Callable[[str], None]) -> Spread:
    """Stage 4; returns the bare endpoint's CPU per POST."""
    with procs.system(tmp / "http") as sys_:
        progress("stage 4: HTTP API vs bare FastAPI")
        h = http_api.http_api(sys_, s.runs, s.http_rate, s.http_duration, s.http_connections)
    _http_saturation_rows(report, h)
    for who, label in (("ours", "POST /orders"), ("bare", "bare FastAPI")):
        for mode, mname in (("sat", "saturation"), ("rate", f"{s.http_rate:.0f} req/s")):
            for pct in ("p50", "p99"):
                report.add(
                    Row(
                        f"4 http {mname}",
                        f"{label} latency {pct}",
                        "ms",
                        h.spread(f"{who}.{mode}.{pct}_ms"),
                    )
                )
    errors = sum(sum(v) for k, v in h.figures.items() if k.endswith(".errors"))
    report.notes.append(f"HTTP stage: {errors:.0f} non-2xx answers or connection errors in all")
    return h.spread("bare.sat.cpu_ms")


def _http_saturation_rows(report: Report, h: http_api.HttpResult) -> None:
    """Throughput and CPU per POST, ours against a bare FastAPI app."""
    add, stage = report.add, "4 http saturation"
    ours, bare = h.spread("ours.sat.rps"), h.spread("bare.sat.rps")
    r = ratio(ours, bare)
    add(Row(stage, "POST /orders", "req/s", ours, "bare FastAPI", r, ">= 0.5", r >= 0.5))
    add(Row(stage, "bare FastAPI POST", "req/s", bare))
    ours_cpu, bare_cpu = h.spread("ours.sat.cpu_ms"), h.spread("bare.sat.cpu_ms")
    r = ratio(ours_cpu, bare_cpu)
    add(
        Row(
            stage,
            "API CPU per POST",
            "ms",
            ours_cpu,
            "bare CPU per POST (ratio: ours / bare)",
            r,
            f"<= {API_CPU_GOAL:g}",
            None if math.isnan(r) else r <= API_CPU_GOAL,
        )
    )
    add(Row(stage, "bare FastAPI CPU per POST", "ms", bare_cpu))


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
    _outbox_rows(report, lat, broker)
    _saga_rows(report, lat)
    for hop, label in HOPS:
        for pct in ("p50", "p99"):
            report.add(
                Row("6 saga, per hop", f"{label} {pct}", "ms", lat.spread(f"hop.{hop}.{pct}"))
            )


def _outbox_rows(
    report: Report, lat: latency.LatencyResult, broker: ceilings.BrokerCeiling
) -> None:
    """Stage 5: from the outbox commit to the broker's confirm, against a raw publish."""
    p50 = lat.spread("outbox.commit_to_confirm.p50")
    p99 = lat.spread("outbox.commit_to_confirm.p99")
    report.add(
        Row(
            "5 outbox",
            "commit -> confirmed (marked) p50",
            "ms",
            p50,
            "raw publish p50",
            ratio(p50, broker.publish_p50_ms),
        )
    )
    report.add(
        Row(
            "5 outbox",
            "commit -> confirmed (marked) p99",
            "ms",
            p99,
            "raw publish p99",
            ratio(p99, broker.publish_p99_ms),
            "<= 50 ms",
            p99.median <= 50,
        )
    )
    for pct in ("p50", "p99"):
        report.add(
            Row(
                "5 outbox",
                f"commit -> in a bound queue {pct}",
                "ms",
                lat.spread(f"outbox.commit_to_queue.{pct}"),
            )
        )


def _saga_rows(report: Report, lat: latency.LatencyResult) -> None:
    """Stage 6: from the POST's answer to CONFIRMED, and to both mails sent."""
    for pct, goal in (("p50", 50), ("p99", 250)):
        value = lat.spread(f"saga.confirmed.{pct}")
        report.add(
            Row(
                "6 saga",
                f"POST returned -> CONFIRMED {pct}",
                "ms",
                value,
                "",
                math.nan,
                f"<= {goal} ms",
                value.median <= goal,
            )
        )
    for pct in ("p50", "p99"):
        report.add(
            Row(
                "6 saga",
                f"POST returned -> both mails sent {pct}",
                "ms",
                lat.spread(f"saga.mails.{pct}"),
            )
        )


def _scale_rows(report: Report, scale: dict[int, fanout.FanoutResult]) -> None:
    if not scale:
        return
    smallest, largest = min(scale), max(scale)
    for svc in fanout.WORKERS:
        big, small = scale[largest].spread(svc), scale[smallest].spread(svc)
        r = ratio(big, small)
        if largest > smallest:  # one size only (`--scale ''`): nothing to compare it with
            report.add(
                Row(
                    f"7 scale {smallest}->{largest}",
                    f"{svc} events at N={largest}",
                    "ev/s",
                    big,
                    f"same at N={smallest}",
                    r,
                    ">= 0.8 (flat)",
                    r >= 0.8,
                )
            )
        halves = Spread.of([b / a for a, b in scale[largest].halves[svc]])
        report.add(
            Row(
                f"7 scale N={largest}",
                f"{svc} rate, 2nd half / 1st half",
                "x",
                halves,
                "",
                math.nan,
                ">= 0.8 (flat)",
                halves.median >= 0.8,
            )
        )
        growth = Spread.of([end - start for start, end in scale[largest].rss[svc]])
        report.add(
            Row(f"7 scale N={largest}", f"{svc} worker RSS growth over the drain", "MB", growth)
        )
