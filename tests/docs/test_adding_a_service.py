"""docs/adding-a-service.md is true, read through its marked blocks (tests/support/doc_steps.py).

Without a broker: its excerpts of shipping are shipping's code as it is, and its edits apply to
this checkout. On a fresh clone (tests/support/fresh_clone.py): its "Try it" section, taken block
by block as a reader takes it (the edits made, the files written, the commands run in its order,
what it says they print compared), adds a service that `make generate` puts in the Procfile,
that `python -m broker.provision check` reports until `make up` provisions it, that `make up`
starts with every other process and `python -m runner status` shows RUNNING, and that handles
an order.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.doc_blocks import Command
from tests.support.doc_steps import (
    AFTER,
    EDIT,
    EXCERPT,
    FILE,
    PRINTS,
    RUN,
    Step,
    apply_edit,
    exit_status,
    is_excerpt,
    missing_lines,
    steps,
    steps_after,
)
from tests.support.fresh_clone import Clone, delete_vhost, make_clone
from tests.support.polling import wait_until
from tests.support.processes import REPO_ROOT

PAGE = Path("docs") / "adding-a-service.md"
TRY_IT = "## Try it: a throwaway service"
# The documented commands the e2e test runs (the page's blocks that name it hold them).
GENERATE = "make generate"
ENV = "make env"
CHECK = ".venv/bin/python -m broker.provision check"
MAKE_UP = "make up"
STATUS = ".venv/bin/python -m runner status"
POINTS = "grep 'points for' var/runner/logs/loyalty-worker.log"
ORDER = {"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": 2}]}
HANDLED_SECONDS = 60


def page_steps(kind: str) -> list[Step]:
    return [s for s in steps(REPO_ROOT / PAGE, REPO_ROOT) if s.kind == kind]


@pytest.mark.parametrize("step", page_steps(EXCERPT), ids=str)
def test_an_excerpt_is_the_code_it_names(step: Step) -> None:
    assert is_excerpt(step.block.body, (REPO_ROOT / step.target).read_text()), (
        f"{step}: not the lines of {step.target} (a `# ...` line stands for lines left out)"
    )


@pytest.mark.parametrize("step", page_steps(EDIT), ids=str)
def test_an_edit_applies_to_this_checkout(step: Step) -> None:
    apply_edit(step.block.body, (REPO_ROOT / step.target).read_text())


def test_the_page_quotes_the_worked_example_and_builds_a_service() -> None:
    excerpts = {s.target for s in page_steps(EXCERPT)}
    assert {"services/common/registry.py", "services/common/topology/routing.py"} <= excerpts
    assert len([t for t in excerpts if t.startswith("services/shipping/")]) >= 5
    kinds = {s.kind for s in steps_after(REPO_ROOT / PAGE, REPO_ROOT, TRY_IT)}
    assert kinds == {EDIT, FILE, RUN, AFTER, PRINTS}
    assert not (REPO_ROOT / "services" / new_service(REPO_ROOT)).exists()


def new_service(root: Path) -> str:
    """The service the "Try it" section adds: the folder of its new files."""
    folders = {
        Path(s.target).parts[1]
        for s in steps_after(root / PAGE, root, TRY_IT)
        if s.kind == FILE and s.target.startswith("services/")
    }
    assert len(folders) == 1, folders
    return folders.pop()


@dataclass
class Reader:
    """Takes the steps of the page in a clone, as a reader would, and keeps what each command
    printed last."""

    clone: Clone
    logs: Path
    printed: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    def take(self, step: Step) -> None:
        path = self.clone.root / step.target  # for PRINTS and RUN, not a file
        if step.kind == EDIT:
            path.write_text(apply_edit(step.block.body, path.read_text()))
            self.changed.append(step.target)
        elif step.kind == FILE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(step.block.body) + "\n")
            self.changed.append(step.target)
        elif step.kind == AFTER:
            lines = path.read_text().splitlines()
            absent = [line for line in step.block.body if line not in lines]
            assert not absent, f"{step}: {step.target} lacks {absent}"
        elif step.kind == PRINTS:
            missing = missing_lines(step.block.body, self.printed[step.target], self.clone.vhost)
            assert not missing, f"{step}: not printed: {missing}\n{self.printed[step.target]}"
        else:
            for command in step.block.commands:
                self.run(command)

    def run(self, command: Command) -> None:
        if command.command == MAKE_UP:
            self.clone.give_ports()  # for the new service's processes too
            self.clone.start(command.text, self.logs / "up.out")
            return
        if command.command == POINTS:  # "place an order ... once it is confirmed"
            order_id = place_a_confirmed_order(self.clone)
            wait_until(
                lambda: order_id in self.bash(command).stdout,
                timeout=HANDLED_SECONDS,
                message=f"{command.command} to show order {order_id}",
            )
        done = self.bash(command)
        assert done.returncode == exit_status(command.comment), (
            f"{command}: exit status {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )

    def bash(self, command: Command) -> subprocess.CompletedProcess[str]:
        done = self.clone.bash(command.text)
        self.printed[command.command] = done.stdout
        return done


def place_a_confirmed_order(clone: Clone) -> str:
    api = f"http://127.0.0.1:{clone.api_port}"
    placed = httpx.post(f"{api}/orders", json=ORDER, timeout=10)
    assert placed.status_code == 202, placed.text
    order = f"{api}/orders/{placed.json()['id']}"
    wait_until(lambda: httpx.get(order, timeout=10).json()["status"] == "CONFIRMED", timeout=60)
    return str(placed.json()["id"])


def lints(clone: Clone, paths: list[str]) -> None:
    """The page's code is held to the project's standards: ruff and mypy (strict) find nothing
    in what it changed."""
    for check in ("ruff check", "ruff format --check", "mypy"):
        done = clone.bash(f".venv/bin/{check} {' '.join(paths)}")
        assert done.returncode == 0, f"{check}:\n{done.stdout}{done.stderr}"


@pytest.fixture
def clone_dir(tmp_path: Path) -> Iterator[Path]:
    """A short path (the run's unix socket must fit in 108 bytes); its logs are kept in
    tmp_path."""
    short = Path(tempfile.mkdtemp(prefix="shopflow-adding-"))
    try:
        yield short
    finally:
        if (short / "var" / "runner" / "logs").is_dir():
            shutil.copytree(short / "var" / "runner" / "logs", tmp_path / "logs")
        shutil.rmtree(short)


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.documents(GENERATE, ENV, CHECK, MAKE_UP, STATUS, POINTS)
def test_the_steps_put_a_new_service_in_make_up_provision_check_and_runner_status(
    tmp_path: Path, clone_dir: Path
) -> None:
    clone = make_clone(clone_dir, f"docs-{secrets.token_hex(5)}")
    service = new_service(clone.root)
    reader = Reader(clone, tmp_path)
    timings = []
    try:
        for step in steps_after(clone.root / PAGE, clone.root, TRY_IT):
            start = time.monotonic()
            reader.take(step)
            timings.append((time.monotonic() - start, str(step)))
        lints(clone, sorted(set(reader.changed)))
        processes = [
            line.split(":")[0]
            for line in (clone.root / "Procfile").read_text().splitlines()
            if line.startswith(f"{service}-")
        ]
        assert processes, f"no process of {service} in the Procfile"
        shown = (tmp_path / "up.out").read_text(errors="replace")
        for name in processes:  # `make up` shows each process's lines: "12:00:00 name   | ..."
            line = re.compile(rf"^\S+ {re.escape(name)} +\| ", re.M)
            assert line.search(shown), f"`make up` shows nothing of {name}:\n{shown[-3000:]}"
        clone.ctrl_c()
    finally:
        clone.kill_leftovers()
        delete_vhost(clone, service)
        print("slowest steps:", *(f"{s:6.1f}s  {c}" for s, c in sorted(timings)[-5:]), sep="\n")
