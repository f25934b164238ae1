"""Scenario 17: a disk alarm. The broker blocks every connection that publishes while the alarm
is on; a worker's happy path publishes nothing (its first attempts are acked straight off the
event queue), so the workers keep draining their queues through the alarm."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from services.common.topology import INVENTORY_EVENTS_QUEUE
from tests.reliability.harness import FaultRun
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.private_rabbit import PrivateRabbit

pytestmark = pytest.mark.reliability

ALARM_SECONDS = 20.0


def disk_alarm_on(node: PrivateRabbit) -> bool:
    with node.management() as api:
        nodes = api.get("/nodes") or []
    return any(n.get("name") == node.node and n.get("disk_free_alarm") for n in nodes)


@contextmanager
def disk_alarm(node: PrivateRabbit) -> Iterator[float]:
    """A disk alarm (the free-space limit set far above the disk's size) from when the node
    reports it until the block ends; yields the moment it was reported."""
    default = node.ctl("eval", "rabbit_disk_monitor:get_disk_free_limit().").strip()
    node.ctl("set_disk_free_limit", str(10**15))
    try:
        wait_until(lambda: disk_alarm_on(node), timeout=60, message="the disk alarm on")
        yield time.monotonic()
    finally:
        node.ctl("set_disk_free_limit", default)
        wait_until(lambda: not disk_alarm_on(node), timeout=60, message="the disk alarm off")


def test_workers_keep_consuming_through_a_disk_alarm(
    fault_run: Callable[..., FaultRun], private_rabbit: PrivateRabbit, fault_broker: TestBroker
) -> None:
    with fault_run(
        "17. disk alarm: publishers blocked",
        fault=f"disk alarm for {ALARM_SECONDS:.0f} s, inventory's backlog queued before it",
    ) as run:
        run.system.procs["inventory-worker"].stop()
        run.start_traffic()
        run.at(0.5)
        backlog = wait_until(
            lambda: fault_broker.ready(INVENTORY_EVENTS_QUEUE),
            timeout=60,
            message="order.placed events waiting for inventory",
        )
        with disk_alarm(private_rabbit) as raised:
            run.system.restart("inventory-worker")
            # nothing can be published now, and yet the backlog is decided and acked
            fault_broker.wait_empty(INVENTORY_EVENTS_QUEUE, timeout=ALARM_SECONDS * 3)
            assert disk_alarm_on(private_rabbit), "the alarm ended before the queue drained"
            drained_after = time.monotonic() - raised
            # hold the alarm as long as the one seen on a running system
            while time.monotonic() - raised < ALARM_SECONDS:
                assert run.system.procs["inventory-worker"].alive()
                time.sleep(0.5)
        print(f"{backlog} waiting events drained {drained_after:.1f} s into the alarm")
        run.cleared()
        run.finish()
