"""The shared event ingress when the hand-off cannot be delivered (tested through the inventory
worker, the simplest service on it): the event is never acked, never lost, never dead-lettered,
and the ingress backs off instead of spinning."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.common.topology import INVENTORY_EVENTS_QUEUE, Service, task_queue
from tests.support.broker import TestBroker
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    WORKER_READY,
    handled,
    inventory_worker,
    make_inventory_db,
    reserved,
)
from tests.support.processes import running

TASKS = task_queue(Service.INVENTORY)


@contextmanager
def private_queue_unbound(broker: TestBroker) -> Iterator[None]:
    """Remove the binding behind the private task queue (as the admin), restore it after."""
    with broker.channel() as ch:
        ch.queue_unbind(TASKS, TASKS, TASKS)
    try:
        yield
    finally:
        with broker.channel() as ch:
            ch.queue_bind(TASKS, TASKS, TASKS)


def test_an_unroutable_hand_off_keeps_the_event_until_it_can_be_delivered(
    broker: TestBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 10})
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    with running(inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url})) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        with private_queue_unbound(broker):
            broker.publish_event(event)
            # a mandatory publish without a route is returned, so the confirm is no success
            worker.wait_for_log(
                rf"hand-off of event order.placed {event.id} .* failed \(3 in a row\)", timeout=60
            )
            assert "NO_ROUTE" in worker.log()
            assert reserved(db) == {"MUG-BLUE": 0}
            assert broker.ready(f"{INVENTORY_EVENTS_QUEUE}.dlq") == 0
        worker.wait_for_log(handled(event, "reserved MUG-BLUE x1"), timeout=60)
        delays = [
            float(d)
            for d in re.findall(r"failed \(\d+ in a row\); requeueing in ([\d.]+)s", worker.log())
        ]
        broker.wait_empty(INVENTORY_EVENTS_QUEUE, TASKS)  # acked after the hand-off went through
    assert delays[:3] == sorted(delays[:3])  # it backs off rather than spinning
    assert reserved(db) == {"MUG-BLUE": 1}
    assert broker.ready(f"{TASKS}.dlq") == 0
