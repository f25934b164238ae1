"""The end-to-end scenario script against the whole system started from the Procfile.

It passes; it passes again and again on a system that is being used (and at a size the demo
stock alone could never hold); it takes its own poison event out of the DLQs and leaves every
other dead letter alone; `make reset` gives a used-up shop its demo stock back; and when the
broker or the API is not there it says so in one line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pika
import pytest

from scenario.world import POISON_ID_PREFIX, POISONED_DLQS
from services.common import topology as t
from services.common.db import Database
from services.inventory.stock import stock_levels
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import PYTHON, REPO_ROOT
from tests.support.system import System, running_system

FIRST_ORDER = [("MUG-BLUE", 2)]  # the README's first order


@pytest.fixture(scope="module")
def system(test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("scenario")) as running:
        yield running


def scenario(system: System, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "scenario", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **system.env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def passed(system: System, *args: str) -> dict[str, Any]:
    done = scenario(system, "--json", *args)
    result: dict[str, Any] = json.loads(done.stdout)
    failed = [c for c in result["checks"] if not c["ok"]]
    assert done.returncode == 0, f"scenario failed: {failed}\n{done.stderr[-3000:]}"
    assert result["ok"] is True
    return result


def test_the_scenario_passes_and_leaves_the_dlqs_as_it_found_them(
    broker: TestBroker, system: System
) -> None:
    result = passed(system, "--orders", "4", "--timeout", "120")
    statuses = sorted(o["status"] for o in result["orders"])
    assert statuses == ["CONFIRMED"] * 5 + ["REJECTED"]
    names = {c["name"] for c in result["checks"]}
    assert "poison event in inventory.orders.dlq" in names
    assert "poison event removed from the DLQs" in names
    assert "working queues drained" in names
    shipped = [c["expected"] for c in result["checks"] if c["name"].startswith("shipped: ")]
    assert sorted(shipped) == ["0 shipment(s)"] + ["1 shipment(s)"] * 5  # shipping's own check
    for queue in sinks(broker):
        assert broker.ready(queue) == 0, queue


def test_again_and_again_on_a_used_system_and_make_reset(
    broker: TestBroker, system: System
) -> None:
    foreign = dead_letter_of_someone_else(broker)
    use_up(system, "MUG-BLUE")
    assert place_and_follow(system, FIRST_ORDER) == "REJECTED"  # what a used system did

    passed(system, "--orders", "20")
    passed(system, "--orders", "300", "--seed", "2")  # more than the demo stock could hold
    assert available(system)["MUG-BLUE"] >= 100  # the scenario leaves the demo stock

    use_up(system, "MUG-BLUE")
    for command in make_recipe("reset"):
        done = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, **system.env}, check=False)
        assert done.returncode == 0, command
    assert available(system)["MUG-BLUE"] == 100
    assert place_and_follow(system, FIRST_ORDER) == "CONFIRMED"
    # nobody else's dead letters were touched, by the runs or by the reset
    for dlq in POISONED_DLQS:
        [(props, _body)] = broker.drain(dlq)
        assert props.message_id == foreign


def test_keep_poison_leaves_it_to_look_at_and_clean_removes_it(
    broker: TestBroker, system: System
) -> None:
    foreign = dead_letter_of_someone_else(broker)
    result = passed(system, "--orders", "2", "--keep-poison")
    kept = [c for c in result["checks"] if c["name"].startswith("poison event in")]
    assert [c["actual"] for c in kept] == ["present (kept)"] * len(POISONED_DLQS)
    for dlq in POISONED_DLQS:
        assert broker.ready(dlq) == 2

    done = scenario(system, "--clean")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "removed 2 scenario poison event(s) in all"
    for dlq in POISONED_DLQS:
        assert [props.message_id for props, _ in broker.drain(dlq)] == [foreign]


@pytest.mark.parametrize(
    ("down", "says"),
    [
        (
            "BROKER_PORT",
            r"^scenario: RabbitMQ at 127\.0\.0\.1:\d+ does not answer: start it with "
            r"`bash broker/ensure-rabbitmq\.sh`",
        ),
        (
            "ORDERS_HTTP_PORT",
            r"^scenario: the orders API does not answer at http://127\.0\.0\.1:"
            r"\d+ .*: start the system with `make up`",
        ),
    ],
)
def test_a_part_that_is_not_there_is_one_line_saying_how_to_start_it(
    down: str, says: str, test_broker: TestBroker
) -> None:
    env = {**os.environ, down: str(free_port())}  # nothing listens there
    done = subprocess.run(
        [PYTHON, "-m", "scenario"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert re.match(says, line), line


# -- helpers --------------------------------------------------------------------------------


def sinks(broker: TestBroker) -> list[str]:
    return [q.name for q in broker.topology.queues if q.owner is None]


def dead_letter_of_someone_else(broker: TestBroker) -> str:
    """A malformed order.placed that is not the scenario's: it dies in both DLQs and must stay."""
    message_id = f"not-the-scenario-{uuid.uuid4()}"
    assert not message_id.startswith(POISON_ID_PREFIX)
    broker.publish_raw(
        b"{not json",
        exchange=t.ORDERS_EXCHANGE,
        routing_key=t.ORDER_PLACED,
        properties=pika.BasicProperties(
            content_type="application/json", delivery_mode=2, message_id=message_id
        ),
    )
    wait_until(
        lambda: all(broker.ready(dlq) == 1 for dlq in POISONED_DLQS),
        timeout=30,
        message="the dead letter in both DLQs",
    )
    return message_id


def available(system: System) -> dict[str, int]:
    db = Database(system.db_url("inventory"))
    try:
        return {lvl.sku: lvl.available for lvl in stock_levels(db)}
    finally:
        db.dispose()


def use_up(system: System, sku: str) -> None:
    """Buy everything left of `sku`, through the API, as customers would."""
    assert place_and_follow(system, [(sku, available(system)[sku])]) == "CONFIRMED"
    assert available(system)[sku] == 0


def place_and_follow(system: System, lines: list[tuple[str, int]]) -> str:
    body = {
        "customer_email": "ada@example.com",
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
    }
    resp = httpx.post(
        f"{system.api_url}/orders",
        json=body,
        headers={"Idempotency-Key": f"test-{uuid.uuid4()}"},
        timeout=10,
    )
    assert resp.status_code == 202, resp.text
    url = f"{system.api_url}/orders/{resp.json()['id']}"

    def settled() -> str | None:
        status = str(httpx.get(url, timeout=10).json()["status"])
        return status if status != "PENDING" else None

    return wait_until(settled, timeout=60, interval=0.2, message="the order to settle")


def make_recipe(target: str) -> list[list[str]]:
    """The commands of a Makefile target, with $(BIN)/python as this interpreter."""
    makefile = (REPO_ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(makefile) if line.startswith(f"{target}:"))
    commands = []
    for line in makefile[start + 1 :]:
        if not line.startswith("\t"):
            break
        argv = line.strip().split()
        commands.append([PYTHON if a == "$(BIN)/python" else a for a in argv])
    assert commands, f"no recipe for {target}"
    return commands
