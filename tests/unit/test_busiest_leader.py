"""The cluster faults' victim: the node leading the most queues that carry the orders' events."""

from __future__ import annotations

import pytest

from broker.cluster.leaders import QueueLeader
from tests.support.cluster import busiest

NODES = ("n1@localhost", "n2@localhost", "n3@localhost")


def led(queue: str, leader: str | None) -> QueueLeader:
    return QueueLeader("v", queue, leader, members=NODES, online=NODES)


def test_idle_queues_do_not_make_a_node_the_busiest() -> None:
    leaders = [
        *(led(f"inventory.orders.dlq.{n}", "n1@localhost") for n in range(5)),
        led("inventory.orders", "n2@localhost"),
        led("email.orders", "n2@localhost"),
        led("orders.inventory", "n3@localhost"),
    ]
    assert busiest(leaders, {"inventory.orders", "email.orders", "orders.inventory"}) == (
        "n2@localhost"
    )


def test_no_leader_among_the_traffic_queues_is_an_error() -> None:
    leaders = [led("inventory.orders", None), led("inventory.orders.dlq", "n1@localhost")]
    with pytest.raises(AssertionError, match="has a leader"):
        busiest(leaders, {"inventory.orders"})
