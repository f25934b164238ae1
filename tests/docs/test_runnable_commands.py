"""Every command marked runnable in README.md and docs/*.md works exactly as written, twice in a
row, on a fresh clone (docs/writing-docs.md says how a command is marked).

The clone (tests/support/fresh_clone.py) is started twice with the documented `make up`
commands themselves, in the background of a terminal of their own: first
`make up 2>&1 | tee var/run.log` (docs/operations.md), then `LOG_FORMAT=json make up`
(docs/observability.md), each stopped with Ctrl-C. Each time every runnable command runs, in the
order of the docs (README.md, docs/operations.md, then the others by name), in bash from the
clone's root with a reader's environment. Two things differ from a terminal, both said in
docs/writing-docs.md: `127.0.0.1:8000` is the clone's API (your own `make up` may hold 8000),
and a `<placeholder>` gets the value an earlier command printed. A command exits with 0 (or the
status its docs name), shows what its docs say it shows, and leaves the system as they say
(tests/docs/expectations.py).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pika
import pytest

from broker.management import ManagementClient
from services.common import topology as t
from tests.docs import expectations as x
from tests.support.doc_blocks import RUNNABLE, Command, all_blocks
from tests.support.fresh_clone import Clone, delete_vhost, make_clone
from tests.support.polling import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

API_DEFAULT = "127.0.0.1:8000"
AGAIN_SECONDS = 60
CORRELATION_ID = "my-order-42"  # docs/observability.md's example
# The documented commands this test runs besides the runnable ones (their blocks name it).
UP_WITH_LOG = "mkdir -p var && make up 2>&1 | tee var/run.log"
UP_WITH_JSON = "LOG_FORMAT=json make up"
GREP_LOG = "grep <correlation-id> var/run.log"
JQ_STORY = (
    """cat var/runner/logs/*.log | jq -cR 'fromjson? | select(.correlation_id == "my-order-42")'"""
)
HANDLERS = {"orders-worker", "inventory-worker", "email-worker"}


@dataclass
class Reader:
    """Runs the docs' commands in the clone as a reader would, and remembers what they showed."""

    clone: Clone
    values: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[float, str]] = field(default_factory=list)

    def fill(self, text: str) -> str:
        text = text.replace(API_DEFAULT, f"127.0.0.1:{self.clone.api_port}")
        for placeholder in re.findall(r"<[a-z][a-z-]*>", text):
            assert placeholder in self.values, f"{placeholder}: no earlier command showed one"
            text = text.replace(placeholder, self.values[placeholder])
        return text

    def run(self, text: str) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        done = self.clone.bash(self.fill(text))
        self.timings.append((time.monotonic() - start, text.splitlines()[0]))
        for placeholder, pattern in x.PLACEHOLDERS.items():
            found = re.findall(pattern, done.stdout)
            if found:
                self.values[placeholder] = found[-1]
        return done

    def pattern(self, regex: str) -> re.Pattern[str]:
        for placeholder, value in self.values.items():
            regex = regex.replace("{" + placeholder.strip("<>") + "}", re.escape(value))
        return re.compile(regex, re.M)

    def missing(self, expect: x.Expect, output: str) -> list[str]:
        return [r for r in expect.shows if not self.pattern(r).search(output)] + [
            f"(not) {r}" for r in expect.hides if self.pattern(r).search(output)
        ]

    def check(self, command: Command) -> None:
        expect = x.EXPECTED.get(command.line, x.Expect())
        started = time.time()
        done = self.run(command.text)
        if expect.again and self.missing(expect, done.stdout):  # a reader looks again
            deadline = time.monotonic() + AGAIN_SECONDS
            while self.missing(expect, done.stdout) and time.monotonic() < deadline:
                done = self.run(command.text)
        result = (done.returncode, self.missing(expect, done.stdout))
        out, err = done.stdout[-4000:], done.stderr[-4000:]
        assert result == (expect.status, []), (
            f"{command}\n(exit status, does not show) {result}, expected {expect.status}\n"
            f"stdout:\n{out}\nstderr:\n{err}"
        )
        if expect.then is not None:
            holds = HOLDS[expect.then]
            wait_until(lambda: holds(self, started), timeout=60, interval=0.25,
                       message=f"{command}: {expect.then}")  # fmt: skip

    # -- the system, as the monitor login and the administrator see it -------------------------

    def ready(self, queue: str) -> int:
        env = self.clone.dotenv()
        credentials = pika.PlainCredentials(
            t.user_name(self.clone.vhost, t.MONITOR), env["BROKER_MONITOR_PASSWORD"]
        )
        params = pika.ConnectionParameters(
            env["BROKER_HOST"], int(env["BROKER_PORT"]), self.clone.vhost, credentials
        )
        with closing(pika.BlockingConnection(params)) as conn:
            declared = conn.channel().queue_declare(queue, passive=True)
            return int(declared.method.message_count)

    def queue_types(self) -> set[str]:
        """The types of the vhost's durable queues, the event logs (streams) left out."""
        env = self.clone.dotenv()
        with ManagementClient(
            env["BROKER_MANAGEMENT_URL"], env["BROKER_ADMIN_USER"], env["BROKER_ADMIN_PASSWORD"]
        ) as api:
            queues = api.get(api.path("queues", self.clone.vhost) + "?columns=name,type,durable")
        logs = {s.name for s in t.build(self.clone.vhost).streams}
        return {q["type"] for q in queues or [] if q["durable"] and q["name"] not in logs}


def inventory_waits(reader: Reader, _since: float) -> bool:
    return reader.ready(t.INVENTORY_EVENTS_QUEUE) > 0 and reader.ready(t.EMAIL_EVENTS_QUEUE) == 0


def poison_back(reader: Reader, _since: float) -> bool:
    dlq = f"{t.INVENTORY_EVENTS_QUEUE}.dlq"
    return reader.ready(dlq) == 1 and reader.ready(t.INVENTORY_EVENTS_QUEUE) == 0


def log_names_poison(reader: Reader, _since: float) -> bool:
    log = reader.clone.root / "var" / "runner" / "logs" / "inventory-worker.log"
    return reader.values["<message-id>"] in log.read_text(errors="replace")


def all_quorum(reader: Reader, _since: float) -> bool:
    return reader.queue_types() == {"quorum"}


def screenshot_made(reader: Reader, since: float) -> bool:
    png = reader.clone.root / "docs" / "images" / "management-ui-inventory-waiting.png"
    return png.stat().st_mtime >= since and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


HOLDS: dict[str, Callable[[Reader, float], bool]] = {
    x.INVENTORY_WAITS: inventory_waits,
    x.POISON_BACK: poison_back,
    x.LOG_NAMES_POISON: log_names_poison,
    x.ALL_QUORUM: all_quorum,
    x.SCREENSHOT_MADE: screenshot_made,
}


def documented(command: str) -> str:
    """`command` as the docs write it, in a block that names this test: it must be there."""
    this = f"tests/docs/{Path(__file__).name}::test_every_runnable_command_works_twice_in_a_row"
    for block in all_blocks():
        if this in block.tests:
            for found in block.commands:
                if found.command == command:
                    return found.text
    raise AssertionError(f"no block that names this test has `{command}`")


def place_an_order_with_a_correlation_id(reader: Reader) -> None:
    """An order as docs/observability.md's example has it, followed until its mails are sent."""
    api = f"http://127.0.0.1:{reader.clone.api_port}"
    body = {"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": 1}]}
    resp = httpx.post(f"{api}/orders", json=body, headers={"X-Correlation-ID": CORRELATION_ID})
    assert resp.status_code == 202, resp.text
    order = f"{api}/orders/{resp.json()['id']}"
    wait_until(lambda: httpx.get(order).json()["status"] == "CONFIRMED", timeout=60)
    reader.values["<correlation-id>"] = CORRELATION_ID


def follow_one_order_in_the_log(reader: Reader) -> None:
    place_an_order_with_a_correlation_id(reader)

    def story() -> set[str]:  # the processes whose lines name it: "12:00:00 inventory-worker | ..."
        done = reader.run(documented(GREP_LOG))
        assert done.returncode in (0, 1), done.stderr  # 1: no line yet (the log lags a little)
        return {line.split()[1] for line in done.stdout.splitlines()}

    wait_until(lambda: story() >= HANDLERS, timeout=30, interval=0.5, message="every worker")


def follow_one_order_in_json(reader: Reader) -> None:
    place_an_order_with_a_correlation_id(reader)

    def story() -> set[str]:
        done = reader.run(documented(JQ_STORY))
        assert done.returncode == 0, done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        assert all(line["correlation_id"] == CORRELATION_ID for line in lines)
        return {line["process"] for line in lines}

    wait_until(lambda: story() >= HANDLERS, timeout=30, interval=0.5, message="every worker")


@pytest.fixture
def clone_dir(tmp_path: Path) -> Iterator[Path]:
    """A short path: the run's unix socket (var/runner/supervisor.sock) must fit in 108 bytes,
    which a clone deep in pytest's tmp_path may not. Its logs are kept in tmp_path."""
    short = Path(tempfile.mkdtemp(prefix="shopflow-docs-"))
    try:
        yield short
    finally:
        if (short / "var" / "runner" / "logs").is_dir():
            shutil.copytree(short / "var" / "runner" / "logs", tmp_path / "logs")
        shutil.rmtree(short)


@pytest.mark.documents("make up", UP_WITH_LOG, GREP_LOG, UP_WITH_JSON, JQ_STORY)
def test_every_runnable_command_works_twice_in_a_row(tmp_path: Path, clone_dir: Path) -> None:
    clone = make_clone(clone_dir, f"docs-{secrets.token_hex(5)}")
    reader = Reader(clone)
    commands = [c for b in all_blocks(clone.root) if b.marker == RUNNABLE for c in b.commands]
    passes = [(UP_WITH_LOG, follow_one_order_in_the_log), (UP_WITH_JSON, follow_one_order_in_json)]
    try:
        for number, (up, logs) in enumerate(passes, start=1):
            clone.start(documented(up), tmp_path / f"up-{number}.out")
            for command in commands:
                reader.check(command)
            logs(reader)
            clone.ctrl_c()
            assert not clone.ports_taken(), "Ctrl-C left ports taken"
    finally:
        clone.kill_leftovers()
        delete_vhost(clone)
        slowest = sorted(reader.timings, reverse=True)[:8]
        print("slowest commands:", *(f"{s:6.1f}s  {c}" for s, c in slowest), sep="\n")
