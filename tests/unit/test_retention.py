"""Retention's batch logic with a scripted deleter and clocks of the test's own: a run goes batch
after batch until one comes back short, pauses between batches, then waits for the next run.
The statements against real databases: tests/integration/test_retention.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.db import Database, table_of
from services.common.retention import Expiry, Pruner
from services.orders.models import OutboxMessage

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class Deleter:
    """Deletes what `counts` says, batch after batch; remembers each call's cutoff and limit."""

    def __init__(self, *counts: int | Exception) -> None:
        self.counts = list(counts)
        self.calls: list[tuple[datetime, int]] = []

    def __call__(self, _db: Database, _expiry: Expiry, cutoff: datetime, limit: int) -> int:
        self.calls.append((cutoff, limit))
        count = self.counts.pop(0) if self.counts else 0
        if isinstance(count, Exception):
            raise count
        return count


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path}/unused.db")  # the deleter never touches it


def pruner(db: Database, deleter: Deleter, clock: Clock, days: float = 7.0) -> Pruner:
    return Pruner(
        db,
        Expiry(table_of(OutboxMessage), "published_at"),
        days=days,
        batch=500,
        pause=0.1,
        interval=600.0,
        clock=clock,
        wall=lambda: NOW,
        delete=deleter,
    )


def test_a_run_goes_on_batch_after_batch_until_one_is_short(db: Database) -> None:
    deleter, clock = Deleter(500, 500, 120), Clock()
    p = pruner(db, deleter, clock)
    assert p.step() == pytest.approx(0.1)  # a full batch: more may wait, after a pause
    clock.now += 0.04
    assert p.step() == pytest.approx(0.06)  # called too early: nothing runs yet
    assert len(deleter.calls) == 1
    clock.now += 0.06
    assert p.step() == pytest.approx(0.1)
    clock.now += 0.1
    assert p.step() == pytest.approx(600.0)  # short: the run is over
    assert deleter.calls == [(NOW - timedelta(days=7), 500)] * 3


def test_the_next_run_starts_an_interval_after_the_last_one_began(db: Database) -> None:
    deleter, clock = Deleter(3, 0), Clock()
    p = pruner(db, deleter, clock)
    assert p.step() == pytest.approx(600.0)
    clock.now += 599
    assert p.step() == pytest.approx(1.0)
    assert len(deleter.calls) == 1
    clock.now += 1
    assert p.step() == pytest.approx(600.0)
    assert len(deleter.calls) == 2


def test_zero_days_keeps_every_row(db: Database) -> None:
    deleter, clock = Deleter(500), Clock()
    p = pruner(db, deleter, clock, days=0)
    assert p.step() == pytest.approx(600.0)
    assert deleter.calls == []


def test_a_failed_batch_is_raised_and_tried_again_at_the_next_run(db: Database) -> None:
    deleter, clock = Deleter(RuntimeError("database is locked"), 10), Clock()
    p = pruner(db, deleter, clock)
    with pytest.raises(RuntimeError, match="locked"):
        p.step()
    assert p.step() == pytest.approx(600.0)  # not again at once
    assert len(deleter.calls) == 1
    clock.now += 600
    p.step()
    assert len(deleter.calls) == 2


def test_a_run_that_deleted_rows_says_how_many_once(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    deleter, clock = Deleter(500, 7), Clock()
    p = pruner(db, deleter, clock)
    with caplog.at_level(logging.INFO, logger="services.common.retention"):
        p.step()
        clock.now += 0.1
        p.step()
        clock.now += 600
        p.step()  # deletes nothing: no line
    assert [r.getMessage() for r in caplog.records] == [
        "pruned 507 row(s) of outbox older than 7 day(s)"
    ]
