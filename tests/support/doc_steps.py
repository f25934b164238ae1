"""The steps of a page that tells the reader to change the code (docs/adding-a-service.md): its
blocks, read with the marker on the line above each fence, as the shell blocks' markers are
(docs/writing-docs.md):

    <!-- excerpt: PATH -->     lines of PATH as they are; a `# ...` line stands for lines left out
    <!-- edit: PATH -->        a change to PATH: ` ` lines stay, `-` lines go, `+` lines come
    <!-- file: PATH -->        a new file, as it stands
    <!-- after: PATH -->       lines PATH has once the steps above it ran
    <!-- prints: COMMAND -->   lines that the last run of COMMAND printed, on the vhost `shop`: a
                               number stands for any number, a word with `…` for any word, a
                               run of blanks for any blanks

Its shell blocks are steps too (`Step.kind == RUN`), marked `checked-by` as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from services.common.topology import DEFAULT_VHOST
from tests.support.doc_blocks import Block, blocks

EXCERPT, EDIT, FILE, AFTER, PRINTS, RUN = "excerpt", "edit", "file", "after", "prints", "run"
MARKER = re.compile(
    rf"^\s*<!--\s*(?P<kind>{'|'.join((EXCERPT, EDIT, FILE, AFTER, PRINTS))}):"
    r"\s*(?P<target>.+?)\s*-->$"
)
ELLIPSIS = "# ..."


@dataclass(frozen=True)
class Step:
    kind: str
    target: str  # a path relative to the root, or for PRINTS a command; "" for RUN
    block: Block

    def __str__(self) -> str:
        return f"{self.block} ({self.kind} {self.target})".replace(" )", ")")


def steps(page: Path, root: Path) -> list[Step]:
    """Every marked block of `page`, in its order."""
    lines = page.read_text().splitlines()
    found = []
    for block in blocks(page, root):
        marker = MARKER.match(lines[block.lineno - 2]) if block.lineno > 1 else None
        if block.is_shell:
            found.append(Step(RUN, "", block))
        elif marker:
            found.append(Step(marker["kind"], marker["target"], block))
    return found


def steps_after(page: Path, root: Path, heading: str) -> list[Step]:
    """The steps below the line `heading` (a Markdown heading of the page)."""
    at = page.read_text().splitlines().index(heading) + 1
    return [step for step in steps(page, root) if step.block.lineno > at]


def is_excerpt(excerpt: tuple[str, ...], text: str) -> bool:
    """The excerpt's lines are lines of `text`, in order, each run between two `# ...` lines
    without a gap."""
    lines = text.splitlines()
    runs: list[list[str]] = [[]]
    for line in excerpt:
        if line.strip() == ELLIPSIS:
            runs.append([])
        else:
            runs[-1].append(line)
    start = 0
    for run in filter(None, runs):
        at = next(
            (i for i in range(start, len(lines) - len(run) + 1) if lines[i : i + len(run)] == run),
            None,
        )
        if at is None:
            return False
        start = at + len(run)
    return True


def apply_edit(diff: tuple[str, ...], text: str) -> str:
    """`text` with the diff's change made where its ` ` and `-` lines stand, which must be once."""
    wrong = [line for line in diff if line[:1] not in (" ", "-", "+")]
    assert not wrong, f"a line of an edit starts with ' ', '-' or '+': {wrong}"
    old = [line[1:] for line in diff if line[:1] in (" ", "-")]
    new = [line[1:] for line in diff if line[:1] in (" ", "+")]
    lines = text.split("\n")
    at = [i for i in range(len(lines)) if lines[i : i + len(old)] == old]
    assert len(at) == 1, f"the edit's lines {old} stand {len(at)} times in the file, not once"
    return "\n".join(lines[: at[0]] + new + lines[at[0] + len(old) :])


def printed_line(line: str, vhost: str) -> re.Pattern[str]:
    """A PRINTS line as a pattern, on `vhost` instead of the default one."""
    line = re.sub(rf"\b{DEFAULT_VHOST}\b", vhost, line)
    words = []
    for word in line.split():
        if "…" in word:
            words.append(r"\S+")
        else:
            words.append("".join(r"\d+" if p.isdigit() else re.escape(p) for p in _digits(word)))
    return re.compile(r"\s+".join(words))


def _digits(word: str) -> list[str]:
    return [part for part in re.split(r"(\d+)", word) if part]


def missing_lines(expected: tuple[str, ...], output: str, vhost: str) -> list[str]:
    """The PRINTS lines that no line of `output` shows."""
    shown = output.splitlines()
    return [
        line
        for line in expected
        if line.strip() and not any(printed_line(line, vhost).search(s) for s in shown)
    ]


def exit_status(comment: str) -> int:
    """0, unless the command's comment says `exit status N`."""
    said = re.search(r"\bexit status (\d+)", comment)
    return int(said[1]) if said else 0
