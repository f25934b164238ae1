"""The inventory worker and the inventory relay as real processes: a placed order's answer
(`stock.reserved` / `stock.rejected`) and an expired order's `stock.released` reach the orders
service's queue, once, through the `inventory` exchange."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.common import topology as t
from services.common.db import Database
from services.common.events import Envelope, OrderExpired, parse_event
from tests.support.broker import TestBroker
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    WORKER_READY,
    answers_of,
    handled,
    inventory_worker,
    make_inventory_db,
    reserved,
    unpublished,
)
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess, running


@dataclass
class AnswerSystem:
    url: str
    worker: ServiceProcess


@pytest.fixture
def system(broker: TestBroker, tmp_path: Path) -> Iterator[AnswerSystem]:
    url = f"sqlite:///{tmp_path}/inventory.db"
    make_inventory_db(url).dispose()
    env = {"INVENTORY_DATABASE_URL": url, "INVENTORY_RELAY_WAKE_PORT": "0"}
    relay = ServiceProcess(
        "inventory-relay", [PYTHON, "-m", "services.inventory.relay"], tmp_path, env=env
    )
    with running(inventory_worker(tmp_path, env), relay) as (worker, relay_proc):
        worker.wait_for_log(WORKER_READY, timeout=90)
        relay_proc.wait_for_log("lease .* acquired", timeout=60)
        yield AnswerSystem(url, worker)


def _answers(broker: TestBroker, count: int) -> list[Envelope[Any]]:
    got: list[Envelope[Any]] = []

    def probe() -> bool:
        got.extend(parse_event(body) for _, body in broker.drain(t.ORDERS_EVENTS_QUEUE))
        return len(got) >= count

    wait_until(probe, timeout=60, message=f"{count} stock.* events on {t.ORDERS_EVENTS_QUEUE}")
    return got


def test_reservation_then_expiry_publish_reserved_then_released(
    broker: TestBroker, system: AnswerSystem
) -> None:
    placed = order_placed_event(lines=[("MUG-BLUE", 2, "8.50")])
    broker.publish_event(placed)
    [answer] = _answers(broker, 1)
    assert (answer.type, answer.data.order_id) == ("stock.reserved", placed.data.order_id)
    assert answer.correlationid == placed.correlationid

    expired = Envelope.wrap(
        OrderExpired(order_id=placed.data.order_id, customer_email="ada@example.com"),
        correlation_id=placed.correlationid,
    )
    broker.publish_event(expired)
    broker.publish_event(expired)  # a duplicate gives nothing back twice
    [released] = _answers(broker, 1)
    assert released.type == "stock.released"
    assert [(ln.sku, ln.quantity) for ln in released.data.lines] == [("MUG-BLUE", 2)]

    # Nothing twice can only be told once the second copy was handled and whatever it committed
    # was published: both copies logged, then the inventory outbox empty.
    copies = handled(expired, r"[^\n]+")
    wait_until(
        lambda: len(re.findall(copies, system.worker.log())) == 2,
        timeout=60,
        message="both copies of order.expired handled",
    )
    db = Database(system.url)
    try:
        wait_until(lambda: not unpublished(db), timeout=60, message="inventory outbox published")
        assert reserved(db)["MUG-BLUE"] == 0
        assert answers_of(db, placed.data.order_id) == ["stock.reserved", "stock.released"]
    finally:
        db.dispose()
    assert broker.ready(t.ORDERS_EVENTS_QUEUE) == 0  # nobody consumes it here: ready is all
    assert broker.ready(t.unroutable(t.INVENTORY_EXCHANGE)) == 0


def test_shortage_publishes_stock_rejected(broker: TestBroker, system: AnswerSystem) -> None:
    placed = order_placed_event(lines=[("POSTER-A2", 1, "12.00")])
    broker.publish_event(placed)
    [answer] = _answers(broker, 1)
    assert answer.type == "stock.rejected"
    body = json.loads(answer.to_json_bytes())
    assert body["data"]["shortages"] == [{"sku": "POSTER-A2", "requested": 1, "available": 0}]


def test_an_answer_keeps_the_priority_of_the_order_placed_it_answers(
    broker: TestBroker, system: AnswerSystem
) -> None:
    """docs/priorities.md: the worker runs the handler under the delivery's AMQP priority, the
    outbox row keeps it and the relay publishes it: an express order stays in its lane."""
    express = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    standard = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    broker.publish_event(express, priority=t.EXPRESS_PRIORITY)
    broker.publish_event(standard)
    got: dict[str, int | None] = {}

    def probe() -> bool:
        for props, body in broker.drain(t.ORDERS_EVENTS_QUEUE):
            got[parse_event(body).data.order_id] = props.priority
        return len(got) >= 2

    wait_until(probe, timeout=60, message=f"2 answers on {t.ORDERS_EVENTS_QUEUE}")
    assert got == {express.data.order_id: t.EXPRESS_PRIORITY, standard.data.order_id: None}
