"""Stage 8's rows: the capacity, the CPU per settled order beside its floor, each process's share;
once for the run on SQLite (stage `STAGE`) and once for the run on PostgreSQL (`PG_STAGE`), whose
figures are also paired with the SQLite run's.

The floor is what an order would cost if each of its parts cost no more than its baseline in the
same run: one bare FastAPI POST (stage 4) plus one Celery no-op task (stage 2) per hand-off an
order needs. An order that settles is handed to a worker four times: `order.placed` to inventory
and to email, `stock.reserved` to orders, `order.confirmed` to email. The floor has no database
in it, so it is the same for both runs.
"""

from __future__ import annotations

import math
import os

from bench.capacity import P99_LIMIT_MS, CapacityResult
from bench.order_flow import hand_offs_per_order
from bench.pg_databases import METER
from bench.pg_locks import KINDS
from bench.report import Report, Row
from bench.stats import Spread, ratio

HAND_OFFS_PER_ORDER = hand_offs_per_order()  # 7: bench/order_flow.py
# The goals (issue 22): CPU per settled order at most 10 floors, capacity at least 0.08 of the
# floor rate, POST -> CONFIRMED at capacity under 10 ms at the median.
CPU_GOAL = 10.0  # x the floor
RATE_GOAL = 0.08  # x the floor rate
CONFIRMED_P50_GOAL_MS = 10.0
STAGE = "8 capacity"  # every service on SQLite
PG_STAGE = "8 capacity PostgreSQL"  # every service on a PostgreSQL database of its own
SQLITE = "SQLite, same run"
RATE = f"settled orders/s (settle p99 <= {P99_LIMIT_MS:.0f} ms, no errors)"
CPU = "CPU per settled order, all processes"


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


def floor_rate_of(floor: Spread) -> Spread:
    """What every core settles at the floor's CPU per order."""
    return Spread.of([(os.cpu_count() or 1) * 1000 / floor.median] if floor.runs else [])


def capacity_rows(
    report: Report, res: CapacityResult, bare_post_ms: Spread, noop_task_ms: Spread
) -> None:
    """The SQLite run's rows."""
    floor = floor_cpu(bare_post_ms, noop_task_ms)
    rate, floor_rate = res.spread("rate"), floor_rate_of(floor)
    r = ratio(rate, floor_rate)
    met = None if math.isnan(r) else r >= RATE_GOAL
    report.add(Row(STAGE, RATE, "orders/s", rate, "floor rate", r, f">= {RATE_GOAL:g}", met))
    cores = os.cpu_count() or 1
    report.add(Row(STAGE, f"floor rate ({cores} cores / floor CPU)", "orders/s", floor_rate))
    _cpu_rows(report, STAGE, res, floor, noop_task_ms)
    _process_rows(report, STAGE, res)
    _latency_rows(report, STAGE, res)
    report.notes += res.ladders()


def pg_capacity_rows(
    report: Report,
    pg: CapacityResult,
    sqlite: CapacityResult,
    bare_post_ms: Spread,
    noop_task_ms: Spread,
) -> None:
    """The PostgreSQL run's rows: those of the SQLite run, the rate and the CPU also paired with
    the SQLite run's, and the database server's CPU, which SQLite spends inside the processes."""
    add = report.add
    floor = floor_cpu(bare_post_ms, noop_task_ms)
    rate, cpu = pg.spread("rate"), pg.spread("cpu_ms")
    add(Row(PG_STAGE, RATE, "orders/s", rate, "floor rate", ratio(rate, floor_rate_of(floor))))
    add(Row(PG_STAGE, RATE, "orders/s", rate, SQLITE, ratio(rate, sqlite.spread("rate"))))
    _cpu_rows(report, PG_STAGE, pg, floor, noop_task_ms)
    add(Row(PG_STAGE, CPU, "ms", cpu, SQLITE, ratio(cpu, sqlite.spread("cpu_ms"))))
    server = pg.spread(f"other:{METER}")
    measure = "PostgreSQL backends' CPU per settled order (the server's processes)"
    share = "all processes (ratio: backends / processes)"
    add(Row(PG_STAGE, measure, "ms", server, share, ratio(server, cpu)))
    whole = pg.spread("cpu_ms_and_other")
    measure = f"{CPU} and the PostgreSQL backends"
    add(
        Row(
            PG_STAGE,
            measure,
            "ms",
            whole,
            f"{SQLITE}: all processes",
            ratio(whole, sqlite.spread("cpu_ms")),
        )
    )
    _process_rows(report, PG_STAGE, pg)
    _latency_rows(report, PG_STAGE, pg)
    report.notes += pg.ladders()


def lock_note(label: str, shares: dict[tuple[str, str], float]) -> str:
    """One line for the notes: per service, the share of its busy backends that waited for a row
    lock and for the outbox's advisory lock, over every step of every ramp."""
    services = dict.fromkeys(svc for svc, _ in shares)
    parts = [
        f"{svc} " + " / ".join(_share(shares.get((svc, kind), math.nan)) for kind in KINDS)
        for svc in services
    ]
    what = " / ".join(f"{kind} lock" for kind in KINDS)
    return f"{label}: share of busy backends waiting for a {what}, all steps: " + ", ".join(parts)


def _share(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _cpu_rows(
    report: Report, stage: str, res: CapacityResult, floor: Spread, noop_task_ms: Spread
) -> None:
    cpu = res.spread("cpu_ms")
    report.add(
        Row(
            stage,
            CPU,
            "ms",
            cpu,
            "no-op CPU per task (ratio: ours / no-op)",
            ratio(cpu, noop_task_ms),
        )
    )
    measure = f"floor: bare POST + {HAND_OFFS_PER_ORDER} no-op hand-offs"
    r = ratio(cpu, floor)
    met = None if math.isnan(r) else r <= CPU_GOAL
    report.add(Row(stage, measure, "ms", floor, "ours / floor", r, f"<= {CPU_GOAL:g}", met))


def _process_rows(report: Report, stage: str, res: CapacityResult) -> None:
    cpu = res.spread("cpu_ms")
    for name in res.processes():
        share = res.spread(f"cpu:{name}")
        measure = f"{name} CPU per order"
        report.add(Row(f"{stage}, per process", measure, "ms", share, "share", ratio(share, cpu)))


def _latency_rows(report: Report, stage: str, res: CapacityResult) -> None:
    for what, label in (
        ("settle", "settled (status and every mail)"),
        ("confirmed", "CONFIRMED"),
    ):
        for pct in ("p50", "p99"):
            measure = f"at capacity: POST returned -> {label} {pct}"
            value = res.spread(f"{what}_{pct}")
            if (what, pct) == ("confirmed", "p50"):
                goal = f"<= {CONFIRMED_P50_GOAL_MS:g} ms"
                met = None if math.isnan(value.median) else value.median <= CONFIRMED_P50_GOAL_MS
                report.add(Row(stage, measure, "ms", value, goal=goal, met=met))
            else:
                report.add(Row(stage, measure, "ms", value))
