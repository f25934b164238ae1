"""A replay of a range the inventory worker (a real process) already handled changes nothing:
its inbox makes each repeat a no-op, however often the range is replayed."""

from __future__ import annotations

import re

import pytest

from broker.replay import main as replay
from services.common.topology import INVENTORY_EVENTS_QUEUE, ORDERS_EXCHANGE, event_log
from tests.integration.inventory.conftest import RunningInventory
from tests.support.broker import TestBroker
from tests.support.event_log import end_of
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    answers_of,
    handled,
    inbox_count,
    reservations_of,
    reserved,
)
from tests.support.polling import wait_until

DUPLICATE = "duplicate event, nothing changed"


def test_replaying_a_handled_range_twice_changes_no_reservation(
    broker: TestBroker, inventory: RunningInventory, capsys: pytest.CaptureFixture[str]
) -> None:
    db, worker = inventory.db, inventory.worker
    start = end_of(broker, event_log(ORDERS_EXCHANGE))
    events = [
        order_placed_event(lines=[("MUG-BLUE", 2, "8.50")]),
        order_placed_event(lines=[("TEE-M", 1, "19.90"), ("MUG-BLUE", 1, "8.50")]),
    ]
    for event in events:
        broker.publish_event(event)
    for event in events:
        worker.wait_for_log(handled(event, "reserved "))
    broker.wait_empty(INVENTORY_EVENTS_QUEUE)
    before = (
        reserved(db),
        [reservations_of(db, e.data.order_id) for e in events],
        [answers_of(db, e.data.order_id) for e in events],
    )

    for rounds in (1, 2):
        assert replay(["--service", "inventory", "--since-offset", str(start)]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            "replayed 2 event(s) into inventory.orders (order.placed 2)"
        )
        for event in events:
            repeats = re.compile(handled(event, DUPLICATE))
            wait_until(
                lambda: len(repeats.findall(worker.log())) == rounds,  # noqa: B023 (called here)
                timeout=60,
                message=f"inventory to see the replay of {event.id} ({rounds})",
            )
        broker.wait_empty(INVENTORY_EVENTS_QUEUE)
        after = (
            reserved(db),
            [reservations_of(db, e.data.order_id) for e in events],
            [answers_of(db, e.data.order_id) for e in events],
        )
        assert after == before  # stock, reservations and answers (no second stock.reserved)
        assert [inbox_count(db, e.id) for e in events] == [1, 1]
