"""The benchmark's table and its block in docs/benchmarks.md (no benchmark is run here)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.drain import Drain
from bench.report import BEGIN, END, Report, Row, text_table, write_markdown
from bench.stats import Spread, percentile, ratio


def _report() -> Report:
    report = Report("Results of a test", machine=["2 CPUs"], settings=["runs: 3"])
    noop = Spread.of([1200.0, 1000.0, 1100.0])
    ours = Spread.of([600.0, 500.0, 700.0])
    report.add(Row("2 celery", "no-op tasks", "tasks/s", noop))
    r = ratio(ours, noop)
    report.add(
        Row("3 fan-out", "inventory | events", "ev/s", ours, "Celery no-op", r, ">= 0.5", r >= 0.5)
    )
    return report


def test_spread_is_median_min_max() -> None:
    s = Spread.of([3.0, 1.0, 2.0])
    assert (s.median, s.low, s.high, s.runs) == (2.0, 1.0, 3.0, 3)
    assert Spread.of([]).runs == 0
    assert math.isnan(Spread.of([]).median)


def test_percentile_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert math.isnan(percentile([], 50))


def test_text_table_has_every_row_with_ratio_and_verdict() -> None:
    table = text_table(_report())
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["stage", "measure"]
    assert len(lines) == 4  # header, rule, two rows
    assert "1,100 tasks/s" in table
    assert "1,000 .. 1,200" in table
    assert "0.55" in table
    assert ">= 0.5: met" in table


def test_markdown_block_is_replaced_and_hand_written_text_kept(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\nintro\n\n{BEGIN}\nold figures\n{END}\n\n## Where the time goes\n"
    )
    write_markdown(_report(), doc)
    write_markdown(_report(), doc)
    text = doc.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n\nintro\n")
    assert text.rstrip().endswith("## Where the time goes")
    assert "| 3 fan-out | inventory \\| events | 600 ev/s |" in text
    assert "### Machine and conditions" in text
    assert "- 2 CPUs" in text


def test_markdown_is_created_when_missing(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "benchmarks.md"
    write_markdown(_report(), doc)
    assert doc.read_text().startswith("# Benchmarks\n")


def test_drain_rates_and_halves_from_the_samples() -> None:
    drain = Drain(100, samples=[(0.0, 0), (1.0, 10), (2.0, 50), (3.0, 100)])
    assert drain.rate == 45.0  # from the first progress (10 at 1 s) to the target (100 at 3 s)
    assert drain.half_rates() == (40.0, 50.0)


def test_a_drain_done_between_two_samples_has_no_halves() -> None:
    drain = Drain(100, samples=[(0.0, 0), (0.1, 100)])
    assert all(math.isnan(half) for half in drain.half_rates())
