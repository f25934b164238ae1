"""The results table: printed to the terminal and written into docs/benchmarks.md.

docs/benchmarks.md has hand-written sections; the run replaces only the part between the
`BEGIN`/`END` markers (or appends it the first time), so prose and figures live in one file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.stats import Spread

BEGIN = "<!-- bench:begin (written by `python -m bench`; edit the code, not this part) -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Row:
    stage: str
    measure: str
    unit: str
    value: Spread
    baseline: str = ""  # what it is paired with, e.g. "raw consume"
    ratio: float = math.nan
    goal: str = ""  # e.g. ">= 0.5"
    met: bool | None = None


@dataclass
class Report:
    title: str
    machine: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


def _num(x: float) -> str:
    if math.isnan(x):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _goal(row: Row) -> str:
    if not row.goal:
        return ""
    verdict = {True: "met", False: "NOT met", None: "?"}[row.met]
    return f"{row.goal}: {verdict}"


def cells(row: Row) -> list[str]:
    v = row.value
    return [
        row.stage,
        row.measure,
        f"{_num(v.median)} {row.unit}".strip(),
        f"{_num(v.low)} .. {_num(v.high)}",
        str(v.runs),
        row.baseline,
        "" if math.isnan(row.ratio) else f"{row.ratio:.2f}",
        _goal(row),
    ]


HEADER = ["stage", "measure", "median", "min .. max", "runs", "paired with", "ratio", "goal"]


def text_table(report: Report) -> str:
    table = [HEADER, *(cells(r) for r in report.rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: Report) -> str:
    out = [BEGIN, "", f"## {report.title}", ""]
    out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(_md_escape(c) for c in cells(r)) + " |" for r in report.rows]
    for heading, items in (
        ("Machine and conditions", report.machine),
        ("Settings and commands", report.settings),
        ("Notes from this run", report.notes),
    ):
        if items:
            out += ["", f"### {heading}", ""]
            out += [f"- {item}" for item in items]
    out += ["", END]
    return "\n".join(out) + "\n"


def write_markdown(report: Report, path: Path) -> None:
    """Replace the generated block of `path` (keep everything around it); create it if needed."""
    block = markdown(report)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start, end = text.find(BEGIN), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(END) :].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
