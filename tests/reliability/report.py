"""Turn the books of a reliability run into the results table of docs/reliability.md.

    pytest -m reliability --orders 2000 --reliability-report=var/reliability.jsonl
    python -m tests.reliability.report var/reliability.jsonl   # rewrites the table in the docs

(`make reliability` does both.) Only the part between the two markers is replaced.

    python -m tests.reliability.report var/cluster.jsonl --add --command "pytest ... FILE"

adds the rows of a separate run (one test file, say) to the table instead: rows of the same
scenarios are replaced, the others kept, and a line under the first one says where the added
rows come from.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
COLUMNS = (
    "scenario",
    "orders",
    "fault",
    "lost",
    "duplicated effects",
    "DLQ'd as expected",
    "recovery time",
)


def _row(b: dict[str, Any]) -> str:
    expected = sum(b["dlq_expected"].values())
    found = sum(b["dlq_found"].values())
    dlq = "yes" if not any("dead letters" in u for u in b["unexpected"]) else "**no**"
    dlq += f" ({found} of {expected})" if expected or found else " (none expected, none found)"
    duplicated = str(len(b["duplicated"]))
    if b["resent"]:
        duplicated += f" (+{b['resent']} same-Message-ID resend, allowed)"
    cells = (
        b["scenario"],
        f"{b['orders']} ({b['confirmed']} confirmed, {b['rejected']} rejected)",
        b["fault"],
        str(len(b["lost"])),
        duplicated,
        dlq,
        f"{b['recovery_seconds']:.1f} s",
    )
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def _rabbitmq_version() -> str:
    out = subprocess.run(
        ["rabbitmqctl", "version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return out or "unknown"


def _order(books: dict[str, Any]) -> tuple[int, str]:
    """The control first, then by scenario number (1, 2, 3a, 3b, ..., 10)."""
    number = re.match(r"(\d+)", books["scenario"])
    return (int(number.group(1)) if number else 0, books["scenario"])


def _run(results: list[dict[str, Any]], command: str) -> str:
    """Where and how the rows were made: "Run on <date> (...), `<command>`: ..." """
    unexpected = sum(len(b["unexpected"]) for b in results)
    return (
        f"Run on {datetime.now(UTC):%Y-%m-%d} ({platform.system()}, {platform.machine()}, "
        f"Python {platform.python_version()}, RabbitMQ {_rabbitmq_version()}), "
        f"`{command}`: {len(results)} scenarios, "
        f"{sum(b['duration_seconds'] for b in results) / 60:.0f} minutes of runs, "
        f"unexpected findings in all: {unexpected}."
    )


def _table(rows: list[str]) -> list[str]:
    return ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS), *rows]


def render(results: list[dict[str, Any]], command: str) -> str:
    results = sorted(results, key=_order)
    return "\n".join([_run(results, command), "", *_table([_row(b) for b in results])])


def _scenario(row: str) -> str:
    return row.split("|")[1].strip()


def add(table: str, results: list[dict[str, Any]], command: str) -> str:
    """`table` (a rendered one) with the rows of `results` added, or replacing the rows of the
    same scenarios, and a line that says which run they come from."""
    results = sorted(results, key=_order)
    lines = table.splitlines()
    new = {b["scenario"]: _row(b) for b in results}
    header = _table([])[0]
    rows = [r for r in lines if r.startswith("| ") and r != header and _scenario(r) not in new]
    rows = sorted([*rows, *new.values()], key=lambda r: _order({"scenario": _scenario(r)}))
    numbers = ", ".join(dict.fromkeys(str(_order(b)[0]) for b in results))
    label = f"Rows {numbers} come from a separate run"
    notes = [n for n in lines[1:] if n and not n.startswith("|") and not n.startswith(label)]
    run = _run(results, command).removeprefix("Run")
    return "\n".join([lines[0], *notes, f"{label}{run}", "", *_table(rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path, help="the --reliability-report file")
    parser.add_argument("--command", default="make reliability ORDERS=2000")
    parser.add_argument(
        "--add", action="store_true", help="add these rows to the table instead of replacing it"
    )
    args = parser.parse_args(argv)
    results = [json.loads(line) for line in args.results.read_text().splitlines() if line]
    text = DOC.read_text()
    pattern = re.compile(re.escape(START) + "\n(.*?)\n" + re.escape(END), re.S)
    if args.add:
        found = pattern.search(text)
        assert found is not None, f"no results table between {START} and {END} in {DOC}"
        table = add(found.group(1), results, args.command)
    else:
        table = render(results, args.command)
    DOC.write_text(pattern.sub(lambda _m: f"{START}\n{table}\n{END}", text))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
