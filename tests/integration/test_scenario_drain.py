"""The scenario's watch on the working queues, against the broker: a message published just
before the question, and one a consumer holds unacked, are both counted, although the
statistics the management API had at that moment showed neither."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scenario.checks import drained
from scenario.world import World
from services.common.topology import INVENTORY_EVENTS_QUEUE, Service, task_queue
from tests.support.broker import TestBroker
from tests.support.polling import wait_until


@pytest.fixture
def world(broker: TestBroker) -> Iterator[World]:
    world = World.connect()
    try:
        yield world
    finally:
        world.close()


def test_ready_and_unacked_messages_count_from_fresh_statistics(
    world: World, broker: TestBroker
) -> None:
    ready, held = task_queue(Service.SHIPPING), INVENTORY_EVENTS_QUEUE
    working = {q.name: 0 for q in broker.topology.queues if q.owner is not None}
    with broker.channel() as ch:
        ch.confirm_delivery()
        for queue in (ready, held):
            ch.basic_publish("", queue, b"{}")
        method, _props, _body = ch.basic_get(held, auto_ack=False)  # held, unacked
        assert method is not None
        with world.working_queues() as watch:

            def known() -> dict[str, int | None] | None:
                watch.poll()
                found = watch.now()
                return None if None in found.values() else found

            found = wait_until(known, timeout=60, message=watch.progress)
    assert found == {**working, ready: 1, held: 1}
    check = drained(found)
    assert not check.ok
    assert set(check.actual.split(", ")) == {f"{ready}=1", f"{held}=1"}
