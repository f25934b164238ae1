"""The capacity stage's arithmetic: which step is sustained, what a run's capacity is, the floor
and the rows (no system is run here)."""

from __future__ import annotations

import math

from bench.capacity import P99_LIMIT_MS, CapacityResult, Step
from bench.capacity_report import HAND_OFFS_PER_ORDER, capacity_rows, floor_cpu
from bench.report import Report
from bench.stats import Spread


def step(rate: float, p99: float, *, errors: int = 0, cpu: float = 10.0) -> Step:
    """A 5 s step at `rate` whose settle times reach `p99` at their 99th percentile."""
    placed = int(rate * 5)
    settle = [p99 / 2] * (placed - 2) + [p99, p99]  # nearest rank: the 99th of 100 is p99
    return Step(
        rate=rate,
        placed=placed,
        errors=errors,
        seconds=5.0,
        settle_ms=settle,
        confirmed_ms=[t / 2 for t in settle],
        cpu_ms={"orders-api": cpu * 0.25, "email-worker": cpu * 0.75},
    )


def test_a_step_is_sustained_up_to_the_p99_limit_and_without_errors() -> None:
    assert step(20, P99_LIMIT_MS).sustained
    assert not step(20, P99_LIMIT_MS + 1).sustained
    assert not step(20, 10, errors=1).sustained
    assert step(20, 10).settled_rate == 20


def test_a_run_counts_its_last_sustained_step_even_after_a_retried_one() -> None:
    ramp = [step(16, 50), step(20, 400), step(20, 90), step(25, 900), step(25, 800)]
    result = CapacityResult([ramp, [step(16, 900), step(16, 900)]])
    [best] = result.best()  # the second run sustained nothing
    assert best.rate == 20
    assert result.spread("rate").median == 20
    assert result.spread("cpu_ms").median == 10
    assert result.spread("cpu:email-worker").median == 7.5
    assert result.processes() == ["email-worker", "orders-api"]


def test_the_floor_is_a_bare_post_plus_a_no_op_task_per_hand_off() -> None:
    floor = floor_cpu(Spread.of([0.3, 0.25, 0.35]), Spread.of([0.2, 0.25, 0.3]))
    assert math.isclose(floor.median, 0.3 + HAND_OFFS_PER_ORDER * 0.25)
    assert math.isclose(floor.low, 0.25 + HAND_OFFS_PER_ORDER * 0.2)
    assert floor_cpu(Spread.of([]), Spread.of([0.2])).runs == 0


def test_the_rows_put_the_cpu_per_order_next_to_its_floor_with_the_goal() -> None:
    report = Report("test")
    result = CapacityResult([[step(16, 50, cpu=4.0), step(20, 60, cpu=4.0), step(25, 900)]])
    capacity_rows(report, result, Spread.of([0.3]), Spread.of([0.25]))
    measures = [row.measure for row in report.rows]
    cpu = measures.index("CPU per settled order, all processes")
    assert measures[cpu + 1].startswith("floor: bare POST")
    row = report.rows[cpu]
    assert row.value.median == 4.0
    assert math.isclose(row.ratio, 4.0 / 0.25)
    assert row.met is True  # 16 no-op tasks, goal <= 20
    assert report.rows[0].value.median == 20  # the capacity: the last sustained step
    assert any("25/s p99 900 ms" in note for note in report.notes)
