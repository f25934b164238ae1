"""Every CLI that prints a list ends quietly when its reader goes away (`... | head`): no
BrokenPipeError traceback, the exit status of a tool killed by SIGPIPE."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from services.common.cli import SIGPIPE_EXIT
from services.email.sink.mailbox import Mailbox
from services.inventory import manage as inventory_manage
from tests.support.broker import TestBroker
from tests.support.processes import PYTHON, REPO_ROOT, run_into_closed_pipe


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A mailbox with mails and an inventory database with stock, for the commands to list."""
    mailbox = Mailbox(tmp_path / "mail")
    for n in range(3):
        mailbox.store(
            f"To: ada{n}@example.com\r\nSubject: hello\r\n\r\nhi\r\n".encode(),
            mail_from="shop@example.com",
            rcpt_tos=[f"ada{n}@example.com"],
        )
    url = f"sqlite:///{tmp_path}/inventory.db"
    monkeypatch.setenv("INVENTORY_DATABASE_URL", url)
    assert inventory_manage.main(["init"]) == 0
    return {"EMAIL_SINK_DIR": str(mailbox.dir), "INVENTORY_DATABASE_URL": url}


COMMANDS = {
    "sink list": ["services.email.sink", "list"],
    "sink show": ["services.email.sink", "show"],
    "inventory stock": ["services.inventory.cli", "stock"],
    "dead letters list": ["broker.dead_letters", "list"],
    "dead letters show": ["broker.dead_letters", "show", "inventory.orders"],
    "provision show": ["broker.provision", "show"],
    "provision check": ["broker.provision", "check"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_went_away_ends_the_command_quietly(
    command: str, test_broker: TestBroker, env: dict[str, str]
) -> None:
    argv = [PYTHON, "-m", *COMMANDS[command]]
    # the same command into a live pipe works and prints something
    ok = subprocess.run(
        argv, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr.decode()
    assert ok.stdout

    closed = run_into_closed_pipe(argv, env)
    stderr = closed.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipe" not in stderr, stderr
    assert closed.returncode == SIGPIPE_EXIT


def test_a_broken_pipe_that_is_not_stdout_keeps_its_traceback() -> None:
    code = (
        "from services.common.cli import run_cli\n"
        "def main() -> int:\n"
        "    raise BrokenPipeError('a socket, not stdout')\n"
        "run_cli(main)\n"
    )
    done = subprocess.run([PYTHON, "-c", code], cwd=REPO_ROOT, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert "BrokenPipeError: a socket, not stdout" in done.stderr.decode()
