"""Stage 8's rows: the capacity, the CPU per settled order beside its floor, each process's share.

The floor is what an order would cost if each of its parts cost no more than its baseline in the
same run: one bare FastAPI POST (stage 4) plus one Celery no-op task (stage 2) per hand-off an
order needs. An order that settles is handed to a worker four times: `order.placed` to inventory
and to email, `stock.reserved` to orders, `order.confirmed` to email.
"""

from __future__ import annotations

import math
import os

from bench.capacity import P99_LIMIT_MS, CapacityResult
from bench.report import Report, Row
from bench.stats import Spread, ratio

HAND_OFFS_PER_ORDER = 4
CPU_GOAL = 20.0  # CPU per settled order, at most this many no-op tasks
STAGE = "8 capacity"


def floor_cpu(bare_post_ms: Spread, noop_task_ms: Spread) -> Spread:
    """One bare POST plus a no-op task per hand-off, each at its median (and min, max)."""
    if math.isnan(bare_post_ms.median) or math.isnan(noop_task_ms.median):
        return Spread.of([])
    return Spread(
        bare_post_ms.median + HAND_OFFS_PER_ORDER * noop_task_ms.median,
        bare_post_ms.low + HAND_OFFS_PER_ORDER * noop_task_ms.low,
        bare_post_ms.high + HAND_OFFS_PER_ORDER * noop_task_ms.high,
        min(bare_post_ms.runs, noop_task_ms.runs),
    )


def capacity_rows(
    report: Report, res: CapacityResult, bare_post_ms: Spread, noop_task_ms: Spread
) -> None:
    add = report.add
    floor = floor_cpu(bare_post_ms, noop_task_ms)
    cores = os.cpu_count() or 1
    floor_rate = Spread.of([cores * 1000 / floor.median] if floor.runs else [])
    rate, cpu = res.spread("rate"), res.spread("cpu_ms")
    limit = f"settle p99 <= {P99_LIMIT_MS:.0f} ms, no errors"
    add(
        Row(
            STAGE,
            f"settled orders/s ({limit})",
            "orders/s",
            rate,
            "floor rate",
            ratio(rate, floor_rate),
        )
    )
    add(Row(STAGE, f"floor rate ({cores} cores / floor CPU)", "orders/s", floor_rate))
    r = ratio(cpu, noop_task_ms)
    add(
        Row(
            STAGE,
            "CPU per settled order, all processes",
            "ms",
            cpu,
            "no-op CPU per task (ratio: ours / no-op)",
            r,
            f"<= {CPU_GOAL:.0f}",
            None if math.isnan(r) else r <= CPU_GOAL,
        )
    )
    add(
        Row(
            STAGE,
            f"floor: bare POST + {HAND_OFFS_PER_ORDER} no-op hand-offs",
            "ms",
            floor,
            "ours / floor",
            ratio(cpu, floor),
        )
    )
    for name in res.processes():
        share = res.spread(f"cpu:{name}")
        add(
            Row(
                f"{STAGE}, per process",
                f"{name} CPU per order",
                "ms",
                share,
                "share",
                ratio(share, cpu),
            )
        )
    for what, label in (("settle", "status and both mails"), ("confirmed", "CONFIRMED")):
        for pct in ("p50", "p99"):
            add(
                Row(
                    STAGE,
                    f"at capacity: POST returned -> {label} {pct}",
                    "ms",
                    res.spread(f"{what}_{pct}"),
                )
            )
    report.notes += res.ladders()
