"""Stage 11, history: its options, where the history's copies go, its rows (no system is run
here)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bench.__main__ import parse, sizes_from
from bench.capacity import Step
from bench.history import EMPTY, HISTORY, HistoryResult, HistorySizes
from bench.history_build import KEPT_FOR_EVER, SPAN_SHARE, Built, history_span
from bench.history_fill import footprint
from bench.history_report import FLAT_GOAL, history_rows
from bench.pg_databases import METER
from bench.report import Report
from services.common.settings import RetentionSettings


def test_the_history_stage_runs_only_when_named_with_a_million_orders() -> None:
    assert "history" not in sizes_from(parse([])).only
    sizes = sizes_from(parse(["--only", "history"]))
    assert sizes.only == {"history"}
    assert sizes.history == HistorySizes()
    assert sizes.history.orders == 1_000_000
    assert sizes.history.databases == ("postgresql", "sqlite")
    quick = sizes_from(parse(["--quick", "--only", "history", "--history-databases", "sqlite"]))
    assert (quick.history.orders, quick.history.runs, quick.history.databases) == (
        2000,
        1,
        ("sqlite",),
    )
    assert sizes_from(parse(["--history-orders", "500"])).history.orders == 500
    with pytest.raises(SystemExit):
        sizes_from(parse(["--only", "history", "--history-databases", "mysql"]))


def test_the_history_stays_inside_the_shortest_retention_that_prunes() -> None:
    week = RetentionSettings(outbox_days=7, inbox_days=30)
    assert history_span(week) == timedelta(days=7) * SPAN_SHARE
    assert history_span(RetentionSettings(outbox_days=0, inbox_days=10)) == timedelta(days=9)
    assert history_span(RetentionSettings(outbox_days=0, inbox_days=0)) == KEPT_FOR_EVER


def test_an_orders_footprint_is_the_tables_it_filled() -> None:
    before = {"orders": {"products": 10, "orders": 0, "outbox": 0}, "email": {"sent_emails": 0}}
    after = {"orders": {"products": 10, "orders": 1, "outbox": 3}, "email": {"sent_emails": 3}}
    assert footprint(before, after) == {"orders": ["orders", "outbox"], "email": ["sent_emails"]}
    with pytest.raises(RuntimeError, match="products"):
        footprint(before, {**after, "orders": {"products": 11, "orders": 1, "outbox": 3}})


def _step(cpu: float, backends: float | None = None, errors: int = 0) -> Step:
    return Step(
        rate=10.0,
        placed=100,
        errors=errors,
        seconds=10.0,
        settle_ms=[20.0] * 99 + [80.0],
        confirmed_ms=[10.0] * 100,
        cpu_ms={"orders-api": cpu / 4, "email-worker": cpu * 3 / 4},
        other_cpu_ms={} if backends is None else {METER: backends},
    )


def test_the_rows_pair_each_figure_with_the_empty_databases_and_judge_the_whole_cpu() -> None:
    res = HistoryResult(HistorySizes(orders=1_000_000))
    res.steps["postgresql"] = {
        EMPTY: [_step(40.0, 10.0), _step(44.0, 10.0), _step(42.0, 12.0)],
        HISTORY: [_step(44.0, 11.0), _step(46.0, 13.0), _step(999.0, 99.0, errors=3)],
    }
    res.steps["sqlite"] = {EMPTY: [_step(30.0)], HISTORY: [_step(36.0)]}
    res.built["postgresql"] = Built(1_000_000, timedelta(days=6.3), {"orders.orders": 1_000_000})
    report = Report("t")
    history_rows(report, res)
    rows = {(r.stage, r.measure): r for r in report.rows}
    stage = "11 history PostgreSQL, 1,000,000 orders"
    whole = rows[(stage, "CPU per settled order, processes and backends")]
    assert whole.value.runs == 2  # the step with errors is left out
    assert math.isclose(whole.ratio, 57 / 54)  # medians: (55, 59) against (50, 54, 54)
    assert whole.goal == f"<= {FLAT_GOAL:g}"
    assert whole.met is (whole.ratio <= FLAT_GOAL)
    assert rows[("11 history PostgreSQL, empty", "PostgreSQL backends' CPU per settled order")]
    email = rows[(stage, "email-worker CPU per order")]
    assert math.isclose(email.ratio, 33.75 / 31.5)
    sqlite = rows[("11 history SQLite, 1,000,000 orders", "CPU per settled order, all processes")]
    assert (sqlite.ratio, sqlite.met) == (1.2, False)  # no backends: the processes are judged
    assert not any("backends" in m for s, m in rows if s.startswith("11 history SQLite"))
    assert any("step 3 left out, 3 of its 100 orders" in n for n in report.notes)
    assert any(n.startswith("history on PostgreSQL: 1,000,000 rows") for n in report.notes)
