"""The scaling-out stages' arithmetic and options: classic against quorum, one worker process
against two, and which stages run by default (no system is run here)."""

from __future__ import annotations

import pytest

from bench.__main__ import parse, sizes_from
from bench.fanout import FanoutResult, instances
from bench.pg_databases import METER
from bench.pg_workers import WorkersResult
from bench.queues import QueueSizes, QueuesResult
from bench.report import Report
from bench.scaleout_report import queues_rows, workers_rows
from bench.suite import DEFAULT_STAGES, OPT_IN_STAGES
from services.common.topology import QueueType


def test_the_scaling_out_stages_run_only_when_named() -> None:
    assert sizes_from(parse([])).only == frozenset(DEFAULT_STAGES)
    assert not set(OPT_IN_STAGES) & set(DEFAULT_STAGES)
    assert sizes_from(parse(["--only", "queues,workers"])).only == {"queues", "workers"}
    assert sizes_from(parse(["--quick", "--only", "queues"])).queues.runs == 1
    with pytest.raises(SystemExit):
        sizes_from(parse(["--only", "queue"]))


def test_quorum_is_paired_with_classic_and_the_ratio_is_quorum_over_classic() -> None:
    res = QueuesResult(QueueSizes())
    for value in (2.0, 1.0, 3.0):
        res.add(QueueType.CLASSIC, "relay", value * 1000)
        res.add(QueueType.QUORUM, "relay", value * 500)
    report = Report("t")
    queues_rows(report, res)
    classic, quorum = (r for r in report.rows if r.measure.startswith("relay drain"))
    assert (classic.stage, classic.value.median, classic.baseline) == ("9 queues classic", 2000, "")
    assert (quorum.stage, quorum.baseline, quorum.ratio) == ("9 queues quorum", "classic", 0.5)
    not_run = next(r for r in report.rows if "p99" in r.measure and r.stage.endswith("quorum"))
    assert not_run.value.runs == 0  # a figure no run produced stays empty, not zero


def test_two_worker_processes_are_paired_with_one_over_merged_runs() -> None:
    one, two = FanoutResult(100), FanoutResult(100)
    for rate in (100.0, 120.0, 110.0):
        run = FanoutResult(100, {"inventory": [rate], "email": [rate / 2]})
        run.cpu_ms = {"inventory": [3.0], "email": [4.0]}
        run.other_cpu_ms = {METER: [2.0]}
        one.merge(run)
        doubled = FanoutResult(100, {"inventory": [rate * 1.5], "email": [rate]})
        doubled.cpu_ms, doubled.other_cpu_ms = run.cpu_ms, run.other_cpu_ms
        two.merge(doubled)
    report = Report("t")
    shares = {1: {"inventory.row": [0.5, 0.6, 0.7]}, 2: {"inventory.row": [0.8, 0.9, 0.7]}}
    workers_rows(report, WorkersResult({1: one, 2: two}, shares))
    rows = {(r.stage.rsplit(", ", 1)[1], r.measure): r for r in report.rows}
    inventory = rows[("2 processes", "inventory events")]
    assert (inventory.value.runs, inventory.baseline, inventory.ratio) == (3, "1 process", 1.5)
    assert rows[("2 processes", "email events")].ratio == 2.0
    postgresql = rows[("1 process", "PostgreSQL backends' CPU per event (both services)")]
    assert postgresql.value.median == 2
    row_locks = "inventory: share of busy PostgreSQL backends waiting for a row lock"
    waits = rows[("2 processes", row_locks)]
    assert (waits.value.median, round(waits.ratio, 2)) == (0.8, 1.33)


def test_each_service_gets_its_named_worker_instances() -> None:
    assert instances(1) == {"inventory": ["inventory-worker"], "email": ["email-worker"]}
    assert instances(2)["email"] == ["email-worker", "email-worker-2"]
