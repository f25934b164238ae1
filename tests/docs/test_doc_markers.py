"""Every shell command in README.md and docs/*.md is run by the docs test or checked by a named
test, and nothing new slips in unmarked (docs/writing-docs.md). Fast: no broker, no process."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docs import expectations as x
from tests.support.doc_blocks import (
    CHECKED_BY,
    RUNNABLE,
    Block,
    Command,
    all_blocks,
    doc_files,
    strip_comment,
)
from tests.support.makefile import run_by, targets
from tests.support.processes import REPO_ROOT

BLOCKS = all_blocks()
SHELL_BLOCKS = [b for b in BLOCKS if b.is_shell]
CHECKED = [b for b in SHELL_BLOCKS if b.marker == CHECKED_BY]
RUNNABLE_COMMANDS = [c for b in SHELL_BLOCKS if b.marker == RUNNABLE for c in b.commands]
# Where a newcomer's first hour is: every inline command there must be checked too.
FIRST_HOUR = [REPO_ROOT / "README.md", REPO_ROOT / "docs" / "operations.md"]
INLINE_COMMAND = re.compile(r"^(make |\.venv/bin/|python -m |curl |docker |bash |sudo |apt-get )")
# `stop|start|restart NAME` is a form, and `python -m runner` a module's name: not commands
SYNOPSIS = re.compile(r"NAME|\.\.\.|\w\|\w|^python -m [\w.]+$")


def test_the_docs_have_shell_blocks_of_both_kinds() -> None:
    assert len(RUNNABLE_COMMANDS) > 40
    assert len(CHECKED) > 10
    assert {Path(p).name for p in doc_files()} >= {"README.md", "operations.md"}


def test_every_fenced_block_says_its_language() -> None:
    bare = [str(b) for b in BLOCKS if not b.info]
    assert not bare, f"fences without a language (```text for output): {bare}"


def test_every_shell_block_is_marked() -> None:
    unmarked = [str(b) for b in SHELL_BLOCKS if b.marker is None]
    assert not unmarked, (
        f"shell blocks without <!-- runnable --> or <!-- checked-by: ... --> on the line above "
        f"their fence (docs/writing-docs.md): {unmarked}"
    )
    assert all(b.tests for b in CHECKED), [str(b) for b in CHECKED if not b.tests]


def function_of(ref: str) -> Callable[..., Any]:
    """`tests/x/test_y.py::test_z` -> the test function itself."""
    path, _, name = ref.partition("::")
    assert (REPO_ROOT / path).is_file(), f"{ref}: no such file"
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    function = getattr(module, name, None)
    assert callable(function), f"{ref}: no such test"
    return function  # type: ignore[no-any-return]


def declared(ref: str) -> set[str]:
    """The commands the test declares with @pytest.mark.documents(...)."""
    marks = getattr(function_of(ref), "pytestmark", [])
    return {" ".join(c.split()) for m in marks if m.name == "documents" for c in m.args}


@pytest.mark.parametrize("block", CHECKED, ids=str)
def test_a_checked_block_names_tests_that_declare_each_of_its_commands(block: Block) -> None:
    covered = set().union(*(declared(ref) for ref in block.tests))
    missing = [c.command for c in block.commands if c.command not in covered]
    assert not missing, f"{block}: {', '.join(block.tests)} declare(s) none of {missing}"


def documents_marks() -> Iterator[tuple[str, str]]:
    """(test ref, command) for every @pytest.mark.documents in the test suite."""
    for path in sorted((REPO_ROOT / "tests").rglob("test_*.py")):
        text = path.read_text()
        for name in re.findall(r"@pytest\.mark\.documents\([^)]*\)\s*\ndef (\w+)", text):
            ref = f"{path.relative_to(REPO_ROOT)}::{name}"
            for command in declared(ref):
                yield ref, command


def test_a_declared_command_is_in_a_block_that_names_the_test() -> None:
    pairs = list(documents_marks())
    assert len(pairs) > 20
    where = {(ref, c.command) for b in CHECKED for ref in b.tests for c in b.commands}
    stale = [pair for pair in pairs if pair not in where]
    assert not stale, f"declared by a test, but no checked-by block naming it has it: {stale}"


def inline_commands(path: Path) -> list[str]:
    text = path.read_text()
    text = re.sub(r"(?ms)^\s*```.*?^\s*```", "", text)  # fenced blocks: marked on their own
    text = re.sub(r"(?s)<!--.*?-->", "", text)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text))
    return [span for span in spans if INLINE_COMMAND.match(span) and not SYNOPSIS.search(span)]


def checked_commands() -> set[str]:
    """Every command a marked block has, every Makefile recipe line, and `make T` for every
    target a marked `make` command runs (`make install`: `make up` runs it)."""
    every = targets()
    commands = {c.command for b in SHELL_BLOCKS for c in b.commands}
    recipes = {line for target in every.values() for line in target.recipe}
    made = {m[1] for c in commands if (m := re.match(r"^(?:\w+=\S+ )*make ([a-z-]+)", c))}
    ran = {f"make {t}" for name in made for t in run_by(name, every)}
    return commands | recipes | ran


@pytest.mark.parametrize("path", FIRST_HOUR, ids=lambda p: p.name)
def test_an_inline_command_of_the_first_hour_is_checked_too(path: Path) -> None:
    checked = checked_commands()
    spans = [re.sub(r"^python -m ", ".venv/bin/python -m ", s) for s in inline_commands(path)]
    unchecked = [span for span in spans if span not in checked]
    assert not unchecked, f"{path.name}: inline commands in no marked block: {unchecked}"


def make_comments(block: Block) -> Iterator[tuple[str, list[str]]]:
    """(target, commands) for each `make T   # = command` line, and the `#   command` lines
    that go on from it."""
    current: tuple[str, list[str]] | None = None
    for line in block.body:
        said = re.match(r"^make ([a-z-]+)\s+# = (.+)$", line)
        more = re.match(r"^\s+#\s{2,}(\S.*)$", line)
        if said:
            current = (said[1], [said[2]])
            yield current
        elif more and current:
            current[1].append(more[1])
        else:
            current = None


def test_a_make_comment_says_what_the_makefile_runs() -> None:
    every = targets()
    said = [pair for b in SHELL_BLOCKS for pair in make_comments(b)]
    assert len(said) >= 5
    for target, commands in said:
        # a note after two blanks, "(idempotent)", is not part of the command
        written = [" ".join(re.split(r"\s{2,}", c)[0].split()) for c in commands]
        assert written == list(every[target].recipe), f"make {target}"


def test_an_expectation_names_a_runnable_command() -> None:
    lines = {c.line for c in RUNNABLE_COMMANDS}
    stale = [key for key in x.EXPECTED if key not in lines]
    assert not stale, f"expectations for commands no runnable block has: {stale}"


def test_every_placeholder_of_a_runnable_command_has_a_source() -> None:
    used = {p for c in RUNNABLE_COMMANDS for p in re.findall(r"<[a-z][a-z-]*>", c.text)}
    assert used, "the docs use placeholders; the test should see them"
    assert used <= set(x.PLACEHOLDERS), used - set(x.PLACEHOLDERS)


def test_every_condition_is_one_the_docs_test_checks() -> None:
    from tests.docs.test_runnable_commands import HOLDS

    named = {e.then for e in x.EXPECTED.values() if e.then}
    assert named == set(x.CONDITIONS) == set(HOLDS)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("make up     # venv, RabbitMQ", "make up"),
        ("grep '#' x.log  # a hash in quotes", "grep '#' x.log"),
        ('echo "a # b" # c', 'echo "a # b"'),
        ("echo $#", "echo $#"),
    ],
)
def test_a_trailing_comment_is_cut_off_at_a_word_outside_quotes(text: str, command: str) -> None:
    assert strip_comment(text) == command


def test_continuation_lines_make_one_command() -> None:
    block = Block("x.md", 1, "bash", RUNNABLE, (), ("# a comment", "curl -s a \\", "   -d b", ""))
    [command] = block.commands
    assert (command.command, command.lineno, command.text) == (
        "curl -s a -d b",
        3,
        block.body[1] + "\n" + block.body[2],
    )
    assert isinstance(command, Command)
