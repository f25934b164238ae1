"""The PostgreSQL backends' CPU meter's arithmetic (no server is asked here)."""

from __future__ import annotations

from bench.pg_databases import used_since


def test_a_new_backend_counts_from_its_start_and_a_closed_one_takes_nothing_back() -> None:
    before = {10: 1.0, 11: 5.0}
    now = {10: 1.5, 12: 0.25}  # 11 closed, 12 opened since
    assert used_since(before, now) == 0.75
    assert used_since(now, now) == 0.0
    assert used_since({10: 2.0}, {10: 0.5}) == 0.0  # a pid reused by a younger backend
