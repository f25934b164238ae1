"""The capacity stage's arithmetic: which step is sustained, what a run's capacity is, where a
ramp starts, the floor and the rows of both databases (no system is run here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from bench.capacity import FIRST_RATE, P99_LIMIT_MS, STEP_FACTOR, CapacityResult, Step, ramp
from bench.capacity_report import (
    HAND_OFFS_PER_ORDER,
    PG_STAGE,
    SQLITE,
    capacity_rows,
    floor_cpu,
    lock_note,
    pg_capacity_rows,
)
from bench.dbpeek import epoch
from bench.pg_databases import METER
from bench.report import Report
from bench.stats import Spread


def step(
    rate: float, p99: float, *, errors: int = 0, cpu: float = 10.0, server: float | None = None
) -> Step:
    """A 5 s step at `rate` whose settle times reach `p99` at their 99th percentile; `server`:
    the PostgreSQL backends' CPU per order, on PostgreSQL."""
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
        other_cpu_ms={} if server is None else {METER: server},
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
    row, floor = report.rows[cpu], report.rows[cpu + 1]
    assert row.value.median == 4.0
    assert math.isclose(row.ratio, 4.0 / 0.25)
    floor_ms = 0.3 + HAND_OFFS_PER_ORDER * 0.25
    assert math.isclose(floor.value.median, floor_ms)
    assert math.isclose(floor.ratio, 4.0 / floor_ms)
    assert floor.met is (4.0 / floor_ms <= 10)  # goal: at most 10 floors
    assert report.rows[0].value.median == 20  # the capacity: the last sustained step
    assert report.rows[0].goal == ">= 0.08"
    assert any("25/s p99 900 ms" in note for note in report.notes)


def test_later_ramps_start_three_steps_below_the_first_runs_capacity() -> None:
    result = CapacityResult([[step(16, 50), step(20, 60), step(25, 900), step(25, 900)]])
    assert result.later_start() == FIRST_RATE  # 20 / 1.25**3 is below the first rate
    result = CapacityResult([[step(50, 50), step(62.5, 60), step(78.125, 900)]])
    assert math.isclose(result.later_start(), 62.5 / STEP_FACTOR**3)
    assert CapacityResult([[step(40, 900), step(40, 900)]]).later_start() == FIRST_RATE
    assert CapacityResult().later_start() == FIRST_RATE


def test_the_postgresql_rows_say_so_and_pair_the_rate_and_cpu_with_sqlites() -> None:
    report = Report("test")
    sqlite = CapacityResult([[step(40, 60, cpu=10.0)]])
    pg = CapacityResult([[step(20, 60, cpu=12.0, server=3.0)]], label="capacity PostgreSQL")
    capacity_rows(report, sqlite, Spread.of([0.3]), Spread.of([0.25]))
    sqlite_rows = list(report.rows)
    pg_capacity_rows(report, pg, sqlite, Spread.of([0.3]), Spread.of([0.25]))
    pg_rows = report.rows[len(sqlite_rows) :]
    assert {r.stage for r in sqlite_rows} == {"8 capacity", "8 capacity, per process"}  # as before
    assert {r.stage for r in pg_rows} == {PG_STAGE, f"{PG_STAGE}, per process"}
    assert "PostgreSQL" in PG_STAGE
    by = {(r.measure, r.baseline): r for r in pg_rows}
    rate = next(r for (m, b), r in by.items() if m.startswith("settled") and b == SQLITE)
    assert (rate.value.median, rate.ratio) == (20, 0.5)
    cpu = by[("CPU per settled order, all processes", SQLITE)]
    assert math.isclose(cpu.ratio, 1.2)
    assert by[("CPU per settled order, all processes", "no-op CPU per task (ratio: ours / no-op)")]
    server = next(r for (m, _), r in by.items() if m.startswith("PostgreSQL backends"))
    assert (server.value.median, server.ratio) == (3.0, 0.25)
    whole = next(r for (m, _), r in by.items() if m.endswith("and the PostgreSQL backends"))
    assert (whole.value.median, whole.ratio) == (15.0, 1.5)  # (12 + 3) / 10
    assert any(r.measure == "email-worker CPU per order" for r in pg_rows)
    assert [n.split(":")[0] for n in report.notes] == [
        "capacity run 1",
        "capacity PostgreSQL run 1",
    ]


def test_settle_times_read_the_same_from_sqlite_text_and_postgresql_datetimes() -> None:
    at = datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert epoch("2026-12-01 10:00:00.250000") == at.timestamp()  # SQLite: naive UTC text
    assert epoch(at.replace(tzinfo=None)) == at.timestamp()  # PostgreSQL: timestamp, UTC
    assert epoch(at) == at.timestamp()  # PostgreSQL: timestamptz
    assert math.isnan(epoch(None))


def test_the_lock_note_gives_each_services_row_and_advisory_waits() -> None:
    shares = {("orders", "row"): 0.0, ("orders", "advisory"): 0.31, ("email", "row"): math.nan}
    note = lock_note("capacity PostgreSQL", shares)
    assert note.startswith("capacity PostgreSQL: ")
    assert note.endswith("row lock / advisory lock, all steps: orders 0.00 / 0.31, email - / -")


def fake_system(capacity: float) -> tuple[list[tuple[float, bool]], Callable[[float, bool], Step]]:
    """Steps sustained up to `capacity` orders/s; the attempts made, in order."""
    attempts: list[tuple[float, bool]] = []

    def attempt(rate: float, after_failure: bool) -> Step:
        attempts.append((rate, after_failure))
        return step(rate, 50 if rate <= capacity else 900)

    return attempts, attempt


def test_a_ramp_stops_at_the_second_failure_of_a_step_after_it_sustained_one() -> None:
    attempts, attempt = fake_system(capacity=30)
    steps = ramp(FIRST_RATE, attempt)
    assert [round(r) for r, _ in attempts] == [16, 20, 25, 31, 31]
    assert [again for _, again in attempts] == [False, False, False, False, True]
    assert steps[-3].sustained
    assert not steps[-1].sustained


def test_a_ramp_started_above_the_systems_capacity_starts_again_lower() -> None:
    attempts, attempt = fake_system(capacity=30)
    steps = ramp(40, attempt)  # a start taken from the other database's run
    assert [round(r, 2) for r, _ in attempts] == [40, 40, 20.48, 25.6, 32, 32]
    assert attempts[2] == (40 / STEP_FACTOR**3, True)  # the failed step's orders settle first
    assert [round(s.rate, 2) for s in steps if s.sustained] == [20.48, 25.6]
    _, attempt = fake_system(capacity=1)
    assert len(ramp(FIRST_RATE, attempt)) == 2  # nothing lower than the first rate is tried
