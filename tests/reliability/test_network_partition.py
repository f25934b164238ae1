"""Scenario 18: a network partition. One node of the three is cut off from the other two (and
from every client) for 30 s while orders flow, then the network heals.

Each node runs in a network namespace of its own, wired to a bridge (tests/support/netns.py);
the cut takes the node's end on the bridge down. With `cluster_partition_handling =
pause_minority` the cut-off node, alone, stops RabbitMQ inside its VM until it sees the others
again: it cannot take a publish or hand out a message the majority does not know about. The
other two keep every quorum queue's majority and go on serving. The node cut is the one
leading the most queues that carry traffic, and the one every client connects to first.

The nodes notice a peer is gone after `net_ticktime` (10 s here instead of 60) and the clients
notice their node is gone by missed heartbeats (5 s here instead of the default 30): with the
defaults, neither would notice before a 30 s cut is over.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from broker.cluster.layout import NODES
from broker.cluster.leaders import queues_led, quorum_leaders
from broker.cluster.status import node_state
from broker.local_node import LocalNode, NodeError
from tests.reliability.harness import FaultRun
from tests.reliability.on_cluster import (
    ClusterTarget,
    cluster_run,
    cluster_target,
    fault_layout,
)
from tests.support.cluster import TestCluster, running_cluster
from tests.support.netns import Net, private_network
from tests.support.polling import ConditionTimeout, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.timeout(1800)]
__all__ = ["cluster_run", "cluster_target"]

CUT_SECONDS = 30.0
PARTITION_SETTINGS = (
    "cluster_partition_handling = pause_minority",
    "net_ticktime = 10",
    # The test and the system reach the nodes over the bridge, not loopback.
    "loopback_users.guest = false",
)
CLIENT_ENV = {"BROKER_HEARTBEAT": "5"}


@pytest.fixture(scope="module")
def partition_net() -> Iterator[Net]:
    with private_network(NODES) as net:
        yield net


@pytest.fixture(scope="module")
def fault_cluster(
    tmp_path_factory: pytest.TempPathFactory, partition_net: Net
) -> Iterator[TestCluster]:
    """The fault cluster of on_cluster.py, each node in its own namespace."""
    layout = replace(
        fault_layout(tmp_path_factory.mktemp("partition-cluster"), PARTITION_SETTINGS),
        hosts=tuple(partition_net.address(i) for i in range(NODES)),
        netns=tuple(partition_net.namespace(i) for i in range(NODES)),
    )
    with running_cluster(layout) as cluster:
        yield cluster


def traffic_leader(target: ClusterTarget) -> LocalNode:
    """The node leading the most queues that carry orders' messages (not dead letters)."""
    cluster = target.cluster
    topology = target.broker(cluster.nodes[0]).topology
    working = {q.name for q in topology.queues if q.owner is not None}
    with cluster.management() as api:
        led = queues_led([q for q in quorum_leaders(api, target.vhost) if q.queue in working])
    assert led, f"no working queue of {target.vhost} has a leader"
    return cluster.node(led.most_common(1)[0][0])


def paused(node: LocalNode) -> bool:
    """The VM answers and says RabbitMQ is not running in it (what pause_minority does)."""
    try:
        return node.ctl("eval", "rabbit:is_running().", timeout=20).strip() == "false"
    except NodeError:  # no answer yet: the node is busy finding out who is gone
        return False


def sees_only(node: LocalNode, others: list[LocalNode]) -> bool:
    state = node_state(node)
    return state.app_running and set(state.sees_running) == {n.name for n in others}


def diagnose(cluster: TestCluster, victim: LocalNode) -> list[str]:
    """What each node says of the cluster, and the end of the cut-off node's log."""
    lines = []
    for node in cluster.nodes:
        try:
            lines += [f"--- {node.name}", node.ctl("cluster_status", timeout=30)]
        except NodeError as exc:
            lines += [f"--- {node.name}: {exc}"]
    for log in sorted(victim.log_dir.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()
        lines += [f"--- {log}", *[line for line in text if _NOTABLE.search(line)][-80:]]
    return lines


_NOTABLE = re.compile(
    r"partition|minority|pause|majority|rabbit on node|Starting|stopped|error", re.I
)


def settled(run: FaultRun) -> int:
    """Accepted orders in their final status so far."""
    snap, orders = run.snapshot(), [o for o in run.stream.orders if o.order_id is not None]
    return sum(1 for o in orders if snap.statuses.get(str(o.order_id)) == o.expected_status)


def test_one_node_cut_off_for_30_s(
    cluster_run: Callable[..., FaultRun],
    cluster_target: ClusterTarget,
    fault_cluster: TestCluster,
    partition_net: Net,
) -> None:
    victim = traffic_leader(cluster_target)
    index = fault_cluster.nodes.index(victim)
    majority = [n for n in fault_cluster.nodes if n is not victim]
    with cluster_run(
        "18. network partition (pause_minority)",
        fault=f"the busiest leader cut off for {CUT_SECONDS:.0f} s",
        observer=majority[0],
        stream_seconds=90,  # the stream outlasts the cut, and the pause if it is slow to come
        extra_env=CLIENT_ENV,
    ) as run:
        run.start_traffic()
        run.at_settled(0.2)  # events relayed and consumed: the cut meets traffic in the broker
        partition_net.cut(index)
        cut_at = time.monotonic()
        wait_until(lambda: paused(victim), timeout=90, interval=1, message=f"{victim.name} paused")
        wait_until(
            lambda: all(sees_only(n, majority) for n in majority),
            timeout=60,
            interval=1,
            message="the majority running without the cut-off node",
        )
        paused_after = time.monotonic() - cut_at
        before = settled(run)
        remaining = CUT_SECONDS - (time.monotonic() - cut_at)
        time.sleep(max(remaining, 0))  # the length of the cut is the scenario's, not a wait
        # Under load the pause can take most of the 30 s to show: the cut lasts until the
        # majority has settled an order on its own, too.
        after = wait_until(
            lambda: n if (n := settled(run)) > before else None,
            timeout=120,
            interval=1,
            message="an order settled on the majority while the node is cut off",
        )
        assert paused(victim), f"{victim.name} resumed while it was still cut off"
        held = time.monotonic() - cut_at
        partition_net.heal(index)
        try:
            fault_cluster.wait_whole(timeout=180)
        except ConditionTimeout:
            # RabbitMQ 3.10 on Erlang 25 now and then leaves the cut-off node paused after the
            # heal while the others list it as running (docs/reliability.md, scenario 18). The
            # operator's remedy is a restart of that node (docs/operations.md); the books say so.
            # Such a node does not answer `rabbitmqctl stop` either (seen here: no answer in
            # 120 s), so its VM is killed: its quorum queue members catch up from the others.
            print("\n".join(diagnose(fault_cluster, victim)))
            run.fault += "; stayed paused after the heal: restarted"
            fault_cluster.kill9(victim)
            fault_cluster.start(victim)
        run.cleared()
        run.finish()
    print(
        f"[18] cut {victim.name} for {held:.1f} s: paused {paused_after:.1f} s after the cut; "
        f"{after - before} orders settled on the majority while it was paused"
    )
