"""The rows of stages 1-7: each figure beside its baseline from the same run, and its goal."""

from __future__ import annotations

import math

from bench import ceilings, fanout, http_api, latency
from bench.drain import Drain
from bench.report import Report, Row
from bench.stats import Spread, ratio

# CPU per unit, at most this many times its baseline's in the same run
# The goals of issue 22 (docs/benchmarks.md).
CPU_GOALS = {"inventory": 5.0, "email": 6.0}  # x the Celery no-op's CPU per task
API_CPU_GOAL = 3.0  # x the bare FastAPI endpoint's CPU per POST
HOPS = (
    ("orders_relay", "orders outbox commit -> marked published"),
    ("inventory_worker", "-> inventory decided (ingress, task, commit)"),
    ("inventory_relay", "inventory outbox commit -> marked published"),
    ("orders_worker", "-> order CONFIRMED (ingress, task, commit)"),
)


def broker_rows(report: Report, broker: ceilings.BrokerCeiling) -> None:
    """Stage 1, the baseline of most others."""
    add = report.add
    add(Row("1 broker", "publish, confirm window", "msg/s", broker.publish_windowed))
    add(Row("1 broker", "publish, one confirm at a time", "msg/s", broker.publish_one_by_one))
    add(Row("1 broker", "publish latency p50 (one at a time)", "ms", broker.publish_p50_ms))
    add(Row("1 broker", "publish latency p99 (one at a time)", "ms", broker.publish_p99_ms))
    add(Row("1 broker", "consume, manual ack", "msg/s", broker.consume))


def celery_rows(
    report: Report, noop: Spread, noop_cpu: Spread, broker: ceilings.BrokerCeiling
) -> None:
    report.add(
        Row("2 celery", "no-op tasks", "tasks/s", noop, "raw consume", ratio(noop, broker.consume))
    )
    report.add(Row("2 celery", "no-op worker CPU per task", "ms", noop_cpu))


def fanout_rows(
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


def http_saturation_rows(report: Report, h: http_api.HttpResult) -> None:
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


def relay_rows(report: Report, n: int, drains: list[Drain], broker: ceilings.BrokerCeiling) -> None:
    """Stage 7's relay drain: its rate against the broker's, and whether it stays flat."""
    add, stage = report.add, f"7 relay N={n}"
    rates = Spread.of([d.rate for d in drains])
    for baseline, ceiling in (
        ("publish, confirm window (the ceiling)", broker.publish_windowed),
        ("one-at-a-time publish", broker.publish_one_by_one),
    ):
        add(Row(stage, "outbox rows published", "rows/s", rates, baseline, ratio(rates, ceiling)))
    halves = Spread.of([d.half_rates()[1] / d.half_rates()[0] for d in drains])
    add(
        Row(
            stage,
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
    add(Row(stage, "relay RSS growth over the drain", "MB", growth))


def http_rows(report: Report, h: http_api.HttpResult, rate: float) -> None:
    """Stage 4: saturation, then the latencies at saturation and at a fixed rate."""
    http_saturation_rows(report, h)
    for who, label in (("ours", "POST /orders"), ("bare", "bare FastAPI")):
        for mode, mname in (("sat", "saturation"), ("rate", f"{rate:.0f} req/s")):
            for pct in ("p50", "p99"):
                report.add(
                    Row(
                        f"4 http {mname}",
                        f"{label} latency {pct}",
                        "ms",
                        h.spread(f"{who}.{mode}.{pct}_ms"),
                    )
                )


def outbox_rows(report: Report, lat: latency.LatencyResult, broker: ceilings.BrokerCeiling) -> None:
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


def saga_rows(report: Report, lat: latency.LatencyResult) -> None:
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
    for hop, label in HOPS:
        for pct in ("p50", "p99"):
            report.add(
                Row("6 saga, per hop", f"{label} {pct}", "ms", lat.spread(f"hop.{hop}.{pct}"))
            )


def scale_rows(report: Report, scale: dict[int, fanout.FanoutResult]) -> None:
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
