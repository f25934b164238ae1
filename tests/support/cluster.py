"""A three-node RabbitMQ cluster for tests that stop, kill and restart brokers.

The cluster is the local cluster tool's own (`broker.cluster`), laid out in a temporary directory
with free ports and node names unique to the test session, so killing one of its nodes can never
reach the machine's shared node or another session's nodes: every action goes through a
`LocalNode`, which only signals the processes carrying its own pid-file path in their
environment and only talks to its own node name. Use it through the module-scoped
`rabbit_cluster` fixture (import it into a conftest.py); a cluster start takes about 30 s.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from broker.cluster import lifecycle
from broker.cluster.layout import NODES, Layout
from broker.cluster.leaders import QueueLeader, queues_led, quorum_leaders
from broker.cluster.status import cluster_status
from broker.local_node import LocalNode, NodePorts, release_root
from broker.management import ManagementClient
from tests.support.polling import wait_until
from tests.support.ports import free_port

ADMIN = ("guest", "guest")  # guest may log in over loopback only: every node is loopback
# With RABBITMQ_RELEASE_ROOT (a RabbitMQ 4 root, broker/local_node.py) the nodes deny global QoS
# as 4.3 does by default (3.10 does not know the key). Not transient non-exclusive queues: a 4.0.5
# node denying them fails `start_app` after `join_cluster` (`failed_to_deny_deprecated_features`);
# the shared 4.x node of broker/ensure-rabbitmq4.sh denies both, and the e2e tests run there.
DENIED_AS_ON_4_3 = ("deprecated_features.permit.global_qos = false",)


@dataclass
class TestCluster:
    __test__ = False

    layout: Layout
    nodes: list[LocalNode]

    def node(self, name: str) -> LocalNode:
        return next(n for n in self.nodes if n.name == name)

    def running(self) -> list[LocalNode]:
        """Nodes accepting AMQP connections right now."""
        return [n for n in self.nodes if lifecycle.port_open(n.ports.amqp, n.host)]

    def management(self, node: LocalNode | None = None) -> ManagementClient:
        """The management API of `node`, by default of the first running node."""
        node = node or self.running()[0]
        return ManagementClient(node.management_url, *ADMIN)

    def connect(self, node: LocalNode, vhost: str = "/") -> pika.BlockingConnection:
        credentials = pika.PlainCredentials(*ADMIN)
        params = pika.ConnectionParameters(node.host, node.ports.amqp, vhost, credentials)
        return pika.BlockingConnection(params)

    # -- faults -----------------------------------------------------------------------------

    def kill9(self, node: LocalNode) -> None:
        """SIGKILL the node's Erlang VM and wait until none of its processes is left."""
        node.kill9()
        wait_until(lambda: not node.processes(), timeout=30, message=f"{node.name} gone")

    def stop(self, node: LocalNode) -> None:
        """An orderly shutdown of the whole node (the Erlang VM too)."""
        node.stop()

    def start(self, node: LocalNode) -> None:
        """Start a stopped or killed node; it rejoins the cluster with its data."""
        self.start_together(node)

    def start_together(self, *nodes: LocalNode) -> None:
        """Start several stopped nodes at once (one may wait at boot for another it knew), as
        the cluster tool does: one that crashes at boot beside a booting peer starts again."""
        lifecycle.start_nodes(list(nodes))
        self.wait_whole()

    def stop_app(self, node: LocalNode) -> None:
        """Stop RabbitMQ inside the running VM: its connections drop, AMQP refuses new ones."""
        node.stop_app()

    def start_app(self, node: LocalNode) -> None:
        node.start_app()
        self.wait_whole()

    def wait_whole(self, timeout: float = 120) -> None:
        """Until every node runs and sees every other one."""
        wait_until(
            lambda: cluster_status(self.nodes, ADMIN).whole,
            timeout=timeout,
            interval=0.5,
            message="every node running and seeing the others",
        )

    # -- leaders ----------------------------------------------------------------------------

    def leaders(self, vhost: str = "/") -> dict[str, str | None]:
        """Queue name -> the node leading it (None during an election), for `vhost`'s quorum
        queues, as the first running node reports them."""
        with self.management() as api:
            return {q.queue: q.leader for q in quorum_leaders(api, vhost)}

    def busiest_leader(self, vhost: str, among: Collection[str]) -> LocalNode:
        """The node leading the most of the quorum queues `among` (the ones that carry the
        traffic): the worst one to lose."""
        with self.management() as api:
            return self.node(busiest(quorum_leaders(api, vhost), among))

    def led_by(self, node: LocalNode, vhost: str) -> set[str]:
        """The quorum queues of `vhost` that `node` leads right now."""
        with self.management() as api:
            return {q.queue for q in quorum_leaders(api, vhost) if q.leader == node.name}


def busiest(leaders: list[QueueLeader], among: Collection[str]) -> str:
    """The name of the node leading the most of the queues `among`. An idle queue's leader (a
    DLQ's) does not count: a node leading only those would be a fault nobody feels."""
    counts = queues_led([q for q in leaders if q.queue in among])
    if not counts:
        raise AssertionError(f"none of the quorum queues {sorted(among)} has a leader")
    return counts.most_common(1)[0][0]


def private_layout(
    state_dir: Path, settings: tuple[str, ...] = (), advanced_config: str | None = None
) -> Layout:
    """Free ports and a node name unique to this test session; `settings` (rabbitmq.conf lines)
    and `advanced_config` tune every node. `state_dir` must be under /tmp when the nodes run
    from a release root (pytest's temporary directories are)."""
    node_ports = tuple(  # free_port never gives this process the same port twice
        NodePorts(
            amqp=free_port(), management=free_port(), dist=free_port(), prometheus=free_port()
        )
        for _ in range(NODES)
    )
    name = f"shopflow-t{os.getpid()}-{secrets.token_hex(2)}"
    denied = DENIED_AS_ON_4_3 if release_root() is not None else ()
    return Layout(name, state_dir, node_ports, (*settings, *denied), advanced_config)


@contextmanager
def running_cluster(layout: Layout) -> Iterator[TestCluster]:
    """The cluster up for the block, then down with its data."""
    try:
        lifecycle.up(layout, ADMIN)
        yield TestCluster(layout, layout.nodes())
    finally:
        lifecycle.down(layout)


@pytest.fixture(scope="module")
def rabbit_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    with running_cluster(private_layout(tmp_path_factory.mktemp("cluster"))) as cluster:
        yield cluster
