"""Scenarios 13-16: nodes of a three-node cluster lost mid-stream (tests/reliability/on_cluster.py:
quorum queues, PostgreSQL, two processes of each worker and two relays per outbox).

Each fault goes in once a share of the orders has settled (`at_settled`: events relayed and
consumed both ways), not on the API's 202s, which the outbox gives with no broker at all; and the
stream holds its later orders until the fault is in, so that there is traffic on both sides of it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.common.topology import EVENT_SUBSCRIPTIONS
from tests.reliability.harness import FaultRun
from tests.reliability.on_cluster import cluster_run, cluster_target, fault_cluster
from tests.support.cluster import TestCluster

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]
__all__ = ["cluster_run", "cluster_target", "fault_cluster"]
# The queues every order's events go through: the victim must lead some of them.
EVENT_QUEUES = frozenset(queue for subs in EVENT_SUBSCRIPTIONS.values() for queue, _, _ in subs)


def test_kill_9_the_busiest_leader_then_restart_it(
    cluster_run: Callable[..., FaultRun], fault_cluster: TestCluster
) -> None:
    with cluster_run(
        "13. kill -9 the busiest quorum leader", fault="kill -9 of the node leading most queues"
    ) as run:
        run.start_traffic(hold_at=0.5)
        run.at_settled(0.3)
        victim = fault_cluster.busiest_leader(run.broker.vhost, among=EVENT_QUEUES)
        led = fault_cluster.led_by(victim, run.broker.vhost) & EVENT_QUEUES
        assert led, f"the victim {victim.name} leads no queue the orders go through"
        print(f"[13] killing {victim.name}, leader of {sorted(led)}")
        fault_cluster.kill9(victim)
        run.release()
        run.at_settled(0.6)  # two nodes carry on: each queue the victim led elects a new leader
        fault_cluster.start(victim)  # it rejoins with its data
        run.cleared()
        run.finish()


def test_a_node_stopped_for_good(
    cluster_run: Callable[..., FaultRun], fault_cluster: TestCluster
) -> None:
    """The node every client connects to first stops and stays down: the other two keep the
    majority of every queue, so this is a reconnect, not an outage."""
    lost, observer, _ = fault_cluster.nodes
    try:
        with cluster_run(
            "14. a node stopped for good", fault="the first-listed node stopped", observer=observer
        ) as run:
            run.start_traffic(hold_at=0.5)
            run.at_settled(0.3)
            fault_cluster.stop(lost)
            run.release()
            run.cleared()
            run.finish()
    finally:
        if lost.vm_pid() is None:
            fault_cluster.start(lost)  # only to hand the next test the whole cluster


def test_rolling_restart_of_every_node(
    cluster_run: Callable[..., FaultRun], fault_cluster: TestCluster
) -> None:
    with cluster_run(
        "15. rolling restart of the cluster", fault="each node stopped and started in turn"
    ) as run:
        run.start_traffic(hold_at=0.3)
        shares = (0.1, 0.4, 0.7)
        holds = (0.6, 0.9, None)
        for node, share, hold in zip(fault_cluster.nodes, shares, holds, strict=True):
            run.at_settled(share)
            fault_cluster.stop(node)
            fault_cluster.start(node)  # and wait until the cluster is whole again
            run.hold_at(hold)
        run.cleared()
        run.finish()


def test_majority_lost_the_api_keeps_accepting(
    cluster_run: Callable[..., FaultRun], fault_cluster: TestCluster
) -> None:
    """Two of three nodes stopped: no queue has a majority, so no publish is confirmed. Orders
    keep getting their 202 (the order and its event commit together in the orders outbox) and
    stay there until a majority is back."""
    first, second, survivor = fault_cluster.nodes
    with cluster_run(
        "16. majority lost (two of three nodes stopped)",
        fault="two nodes stopped for 20% of the stream or more",
        observer=survivor,
        stream_seconds=20,  # stopping two nodes takes seconds: the stream must outlast it
    ) as run:
        run.start_traffic(hold_at=0.5)  # the second half is placed without a majority
        run.at_settled(0.2)
        with ThreadPoolExecutor(2) as pool:  # together: the shortest time with one node down
            list(pool.map(fault_cluster.stop, (first, second)))
        try:
            before = {o.number for o in run.stream.orders if o.order_id is not None}
            run.release()
            run.at(min(len(before) / run.config.orders + 0.2, 1.0))  # 202s: nothing settles now
            during = [o for o in run.stream.orders if o.order_id and o.number not in before]
            held = run.snapshot().unpublished["orders"]
        finally:
            fault_cluster.start_together(first, second)
        run.cleared()
        run.finish()
    print(f"[16] {len(during)} orders accepted without a majority; {held} events held")
    retried = [(o.number, o.attempts, o.error) for o in during if o.attempts != 1]
    assert during, "no order was accepted while the majority was lost"
    assert not retried, f"orders the API did not take at the first try: {retried[:10]}"
    assert held >= len(during), f"{held} unpublished events for {len(during)} orders"
