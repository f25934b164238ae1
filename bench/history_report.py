"""Stage 11's rows: per database, each figure on empty databases, then the same with N orders of
history beside it (ratio: history / empty), and the goal on the CPU per settled order."""

from __future__ import annotations

import math

from bench.history import EMPTY, HISTORY, HistoryResult, HistorySizes
from bench.pg_databases import METER
from bench.report import Report, Row
from bench.stats import ratio

# Issue 22: flat after a million orders. CPU per settled order with the history at most this
# many times the same on empty databases, same run, same load (a few percent is noise).
FLAT_GOAL = 1.15
LABELS = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def history_rows(report: Report, res: HistoryResult) -> None:
    for database in res.steps:
        label = LABELS.get(database, database)
        stage = f"11 history {label}"
        base, other = f"{stage}, empty", f"{stage}, {res.sizes.orders:,} orders"
        postgresql = any(METER in s.other_cpu_ms for s in res.counted(database, EMPTY))
        figures = [("cpu", "CPU per settled order, all processes", "ms")]
        if postgresql:
            figures += [
                ("backends", "PostgreSQL backends' CPU per settled order", "ms"),
                ("all", "CPU per settled order, processes and backends", "ms"),
            ]
        figures += [
            ("settle_p50", "POST returned -> settled p50", "ms"),
            ("settle_p99", "POST returned -> settled p99", "ms"),
        ]
        names = sorted({n for s in res.counted(database, EMPTY) for n in s.cpu_ms})
        figures += [(f"cpu:{n}", f"{n} CPU per order", "ms") for n in names]
        judged = "all" if postgresql else "cpu"
        for key, measure, unit in figures:
            empty, history = res.spread(database, EMPTY, key), res.spread(database, HISTORY, key)
            report.add(Row(base, measure, unit, empty))
            r = ratio(history, empty)
            goal, met = ("", None)
            if key == judged:
                goal, met = f"<= {FLAT_GOAL:g}", None if math.isnan(r) else r <= FLAT_GOAL
            report.add(Row(other, measure, unit, history, "empty databases", r, goal, met))
        report.notes += _notes(res, database, label)


def _notes(res: HistoryResult, database: str, label: str) -> list[str]:
    notes = []
    built = res.built.get(database)
    if built is not None:
        tables = ", ".join(f"{t} {n:,}" for t, n in built.rows.items())
        sizes = ", ".join(f"{svc} {mb:,.0f}" for svc, mb in built.megabytes.items())
        notes.append(
            f"history on {label}: {sum(built.rows.values()):,} rows copied from one settled "
            f"order, its copies spread over the last {built.span.total_seconds() / 86400:.1f} "
            f"days, in {built.seconds:.0f} s with the databases' settling ({tables}); the "
            f"databases then held {sum(built.megabytes.values()):,.0f} MB ({sizes})"
        )
    scans = res.scans.get(database, {})
    if scans:
        parts = []
        for side in (HISTORY, EMPTY):
            read = scans.get(side, {})
            top = ", ".join(f"{t} {n:,}" for t, n in list(read.items())[:3])
            parts.append(f"{sum(read.values()):,} rows on the {side} side ({top or 'none'})")
        notes.append(f"history on {label}, sequential scans during the steps: " + "; ".join(parts))
    for side in (EMPTY, HISTORY):
        for i, step in enumerate(res.steps[database][side]):
            if step.errors:
                notes.append(
                    f"history on {label}, {side}: step {i + 1} left out, {step.errors} of its "
                    f"{step.placed} orders did not settle"
                )
    return notes


def history_settings(s: HistorySizes) -> str:
    """What the report says about how stage 11 was measured."""
    databases = " and ".join(LABELS.get(d, d) for d in s.databases)
    return (
        f"history: {s.orders:,} orders of history (every row they leave, inside the retention "
        f"window) against empty databases, on {databases}, two systems side by side; per side "
        f"{s.runs} step(s) of {s.seconds:.0f} s at {s.rate:.0f} orders/s, alternating"
    )
