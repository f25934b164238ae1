"""The shell commands of README.md and docs/*.md, read from their fenced blocks and markers.

Every shell block carries a marker on the line right above its fence (docs/writing-docs.md):

    <!-- runnable -->                                   tests/docs runs each command as written
    <!-- checked-by: tests/x.py::test_a, tests/y.py::test_b -->   those tests cover the commands

A command is one logical line of a block: `\\` continuations joined, comment lines skipped. Its
`command` is what bash runs (the trailing `# comment` cut off, blanks collapsed): the name under
which tests declare what they cover. Its `line` is the whole line, comment included, as the
reader sees it: the comment often says what the command prints, and the docs test checks that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHELL = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>\S*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>runnable|checked-by)(?::\s*(?P<tests>.*?))?\s*-->\s*$")
RUNNABLE = "runnable"
CHECKED_BY = "checked-by"


@dataclass(frozen=True)
class Command:
    text: str  # as written: continuation lines included, so that bash sees what a reader pastes
    path: str
    lineno: int

    @property
    def command(self) -> str:
        return " ".join(strip_comment(self.text).replace("\\\n", " ").split())

    @property
    def line(self) -> str:
        return " ".join(self.text.replace("\\\n", " ").split())

    @property
    def comment(self) -> str:
        return self.text.replace("\\\n", " ")[len(strip_comment(self.text)) :].strip(" #")

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.line}"


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    lineno: int  # the fence's line, 1-based
    info: str  # the fence's language, "" when it has none
    marker: str | None  # RUNNABLE, CHECKED_BY or None
    tests: tuple[str, ...]  # for CHECKED_BY: "tests/x.py::test_name"
    body: tuple[str, ...]  # the lines between the fences, indentation removed

    @property
    def is_shell(self) -> bool:
        return self.info in SHELL

    @property
    def commands(self) -> list[Command]:
        out: list[Command] = []
        pending: list[str] = []
        start = 0
        for offset, raw in enumerate(self.body, start=self.lineno + 1):
            if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
                continue
            if not pending:
                start = offset
            pending.append(raw)
            if not raw.rstrip().endswith("\\"):
                out.append(Command("\n".join(pending), self.path, start))
                pending = []
        return out

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}"


def doc_files(root: Path = REPO_ROOT) -> list[Path]:
    """README.md, docs/operations.md, then the other docs by name: the order the docs test
    runs them in (the README's steps first, then the operations guide that builds on them)."""
    others = sorted(p for p in (root / "docs").glob("*.md") if p.name != "operations.md")
    return [root / "README.md", root / "docs" / "operations.md", *others]


def blocks(path: Path, root: Path = REPO_ROOT) -> list[Block]:
    """Every fenced block of a Markdown file, with the marker on the line above its fence."""
    lines = path.read_text().splitlines()
    rel = str(path.relative_to(root))
    out: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence)),
            len(lines),
        )
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        named = (marker["tests"] if marker else None) or ""
        tests = tuple(t.strip() for t in named.split(",") if t.strip())
        body = tuple(line.removeprefix(indent) for line in lines[i + 1 : end])
        out.append(
            Block(rel, i + 1, opening["info"], marker["kind"] if marker else None, tests, body)
        )
        i = end + 1
    return out


def all_blocks(root: Path = REPO_ROOT) -> list[Block]:
    return [block for path in doc_files(root) for block in blocks(path, root)]


def strip_comment(text: str) -> str:
    """`text` without its trailing bash comment: a `#` that starts a word outside quotes."""
    quote = ""
    previous = " "
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and previous in " \t\n":
            return text[:i].rstrip()
        previous = char
    return text.rstrip()
