"""The results table of docs/reliability.md is rendered from the books of a run."""

from __future__ import annotations

from tests.reliability.report import COLUMNS, add, render
from tests.support.books import Books


def books(scenario: str, **kw: object) -> Books:
    b = Books(scenario, fault="f", orders=10, confirmed=8, rejected=2)
    for key, value in kw.items():
        setattr(b, key, value)
    return b


def test_table_has_the_columns_the_scenarios_in_order_and_the_counts() -> None:
    results = [
        books("10. SIGTERM", recovery_seconds=2.0).to_json(),
        books("3a. kill", resent=1).to_json(),
        books(
            "6. poison",
            dlq_expected={"a.dlq": 2},
            dlq_found={"a.dlq": 2},
            lost=["order 1: no mail"],
        ).to_json(),
        books("control").to_json(),
    ]
    table = render(results, "make reliability ORDERS=10")
    lines = table.splitlines()
    header = next(line for line in lines if line.startswith("| scenario"))
    assert [c.strip() for c in header.strip("|").split("|")] == list(COLUMNS)
    rows = [line for line in lines if line.startswith("| ") and line != header]
    assert [r.split("|")[1].strip() for r in rows] == [
        "control",
        "3a. kill",
        "6. poison",
        "10. SIGTERM",
    ]
    poison = rows[2].split("|")
    assert poison[4].strip() == "1"  # lost
    assert poison[6].strip() == "yes (2 of 2)"
    assert "+1 same-Message-ID resend" in rows[1]
    assert "2.0 s" in rows[3]


def test_a_separate_run_adds_its_rows_and_says_where_they_come_from() -> None:
    first = render([books("control").to_json(), books("14. old").to_json()], "make reliability")
    added = [books("14. old", recovery_seconds=7.0).to_json(), books("13. new").to_json()]
    table = add(first, added, "pytest tests/reliability/test_cluster_faults.py")
    lines = table.splitlines()
    assert lines[0] == first.splitlines()[0]  # the big run's line stays first
    assert lines[1].startswith("Rows 13, 14 come from a separate run on ")
    assert "`pytest tests/reliability/test_cluster_faults.py`: 2 scenarios" in lines[1]
    rows = [line for line in lines if line.startswith("| ") and "| scenario |" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["control", "13. new", "14. old"]
    assert "7.0 s" in rows[2]
    again = add(table, added, "pytest again").splitlines()
    assert sum(line.startswith("Rows 13, 14") for line in again) == 1
    assert sum(line.startswith("| scenario |") for line in again) == 1
