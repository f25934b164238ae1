"""The rows of the scaling-out stages: classic against quorum queues (stage 9), one against two
worker processes per service on PostgreSQL (stage 10). Each pair: the baseline's row, then the
other's row with the ratio other / baseline."""

from __future__ import annotations

from bench.fanout import WORKERS
from bench.pg_databases import METER
from bench.pg_workers import WorkersResult
from bench.queues import QueueSizes, QueuesResult
from bench.report import Report, Row
from bench.stats import Spread, ratio
from services.common.topology import QueueType

Stages = tuple[tuple[str, str], str]  # (the baseline's stage, its label in "paired with"), other's


def _pair(
    report: Report, stages: Stages, measure: str, unit: str, values: tuple[Spread, Spread]
) -> None:
    (base_stage, baseline), other_stage = stages
    base, other = values
    report.add(Row(base_stage, measure, unit, base))
    report.add(Row(other_stage, measure, unit, other, baseline, ratio(other, base)))


def queues_rows(report: Report, res: QueuesResult) -> None:
    s = res.sizes
    measures = [
        ("confirm.p50", "relay publish -> confirm p50 (one row per batch)", "ms"),
        ("confirm.p99", "relay publish -> confirm p99 (one row per batch)", "ms"),
        ("relay", f"relay drain of {s.relay_rows} outbox rows", "rows/s"),
        ("relay.broker_cpu", "RabbitMQ node CPU per row in the relay drain (shared node)", "ms"),
    ]
    for svc in WORKERS:
        measures.append((f"fanout.{svc}", f"{svc} events (fan-out of {s.fanout})", "ev/s"))
        measures.append((f"fanout.{svc}.cpu", f"{svc} worker CPU per event", "ms"))
    stages = (("9 queues classic", "classic"), "9 queues quorum")
    for key, measure, unit in measures:
        values = (res.spread(QueueType.CLASSIC, key), res.spread(QueueType.QUORUM, key))
        _pair(report, stages, measure, unit, values)


def workers_rows(report: Report, res: WorkersResult) -> None:
    one, two = res.fanouts[1], res.fanouts[2]
    stage = f"10 workers PG N={one.n}"
    stages = ((f"{stage}, 1 process", "1 process"), f"{stage}, 2 processes")
    for svc in WORKERS:
        _pair(report, stages, f"{svc} events", "ev/s", (one.spread(svc), two.spread(svc)))
        cpu = (Spread.of(one.cpu_ms[svc]), Spread.of(two.cpu_ms[svc]))
        _pair(report, stages, f"{svc} workers' CPU per event (summed)", "ms", cpu)
    pg = (Spread.of(one.other_cpu_ms.get(METER, [])), Spread.of(two.other_cpu_ms.get(METER, [])))
    _pair(report, stages, "PostgreSQL backends' CPU per event (both services)", "ms", pg)
    for svc in WORKERS:
        for kind, what in (("row", "a row lock"), ("advisory", "the outbox's advisory lock")):
            one_share, two_share = (
                Spread.of(res.lock_share.get(k, {}).get(f"{svc}.{kind}", [])) for k in (1, 2)
            )
            measure = f"{svc}: share of busy PostgreSQL backends waiting for {what}"
            _pair(report, stages, measure, "", (one_share, two_share))


def scaleout_settings(
    only: frozenset[str], q: QueueSizes, workers_fanout: int, runs: int
) -> list[str]:
    """What the report says about how stages 9 and 10 were measured (when they ran)."""
    out = []
    if "queues" in only:
        out.append(
            f"queue types: a throwaway vhost per type, {q.runs} run(s) each, alternating; "
            f"{q.confirms} one-row relay publishes, a relay drain of {q.relay_rows} rows and a "
            f"fan-out of {q.fanout} events per run"
        )
    if "workers" in only:
        out.append(
            f"worker processes: every service on its own throwaway PostgreSQL database; fan-out "
            f"of {workers_fanout} events published once the workers are ready, {runs} run(s) "
            "per number of processes, alternating"
        )
    return out
