"""What each node of the local cluster says about itself and about the cluster.

A node is *stopped* (no Erlang VM), *app stopped* (the VM runs, RabbitMQ inside it does not:
`rabbitmqctl stop_app`) or *running*. A running node reports the cluster's members and which of
them it sees running; the cluster is whole when every node runs and sees all the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from broker.cluster.leaders import QueueLeader, queues_led, quorum_leaders
from broker.local_node import LocalNode, NodeError
from broker.management import ManagementClient, ManagementError

STOPPED, APP_STOPPED, RUNNING = "stopped", "app stopped", "running"


@dataclass(frozen=True)
class NodeState:
    node: LocalNode
    vm_pid: int | None
    app_running: bool
    members: tuple[str, ...] = ()  # the cluster's nodes, as this node knows them
    sees_running: tuple[str, ...] = ()  # the members it sees running, itself included

    @property
    def state(self) -> str:
        if self.vm_pid is None:
            return STOPPED
        return RUNNING if self.app_running else APP_STOPPED


@dataclass(frozen=True)
class ClusterStatus:
    nodes: list[NodeState]
    leaders: list[QueueLeader]
    leaders_error: str | None = None  # why the leaders could not be read

    @property
    def whole(self) -> bool:
        names = {s.node.name for s in self.nodes}
        return all(s.app_running and set(s.sees_running) == names for s in self.nodes)


def node_state(node: LocalNode) -> NodeState:
    pid = node.vm_pid()
    if pid is None:
        return NodeState(node, None, app_running=False)
    try:
        report = json.loads(node.ctl("cluster_status", "--formatter", "json", timeout=30))
    except NodeError:  # the command needs the rabbit app running
        return NodeState(node, pid, app_running=False)
    members = tuple(sorted(report.get("disk_nodes", []) + report.get("ram_nodes", [])))
    return NodeState(node, pid, True, members, tuple(sorted(report.get("running_nodes", []))))


def cluster_status(nodes: list[LocalNode], admin: tuple[str, str]) -> ClusterStatus:
    """Every node's state, and the quorum queue leaders as the first running node reports them
    (over its management API, logged in as `admin`)."""
    states = [node_state(node) for node in nodes]
    running = [s.node for s in states if s.app_running]
    if not running:
        return ClusterStatus(states, [], "no node is running")
    try:
        with ManagementClient(running[0].management_url, *admin) as api:
            return ClusterStatus(states, quorum_leaders(api))
    except ManagementError as exc:
        return ClusterStatus(states, [], str(exc))


def render(status: ClusterStatus) -> list[str]:
    lines = [f"{'node':<28} {'state':<12} {'amqp':>5} {'management':>10}  sees running"]
    for s in status.nodes:
        seen = ", ".join(n.partition("@")[0] for n in s.sees_running) or "-"
        ports = s.node.ports
        lines.append(
            f"{s.node.name:<28} {s.state:<12} {ports.amqp:>5} {ports.management:>10}  {seen}"
        )
    lines.append("cluster: " + ("whole" if status.whole else "NOT whole"))
    return lines + _render_leaders(status)


def _render_leaders(status: ClusterStatus) -> list[str]:
    if status.leaders_error is not None:
        return [f"quorum queue leaders: unknown ({status.leaders_error})"]
    if not status.leaders:
        return ["quorum queues: none"]
    lines = ["quorum queue leaders:"]
    for vhost in sorted({q.vhost for q in status.leaders}):
        lines.append(f"  vhost {vhost}")
        lines += [
            f"    {q.queue}: {q.leader or 'NO LEADER'} ({len(q.online)}/{len(q.members)} online)"
            for q in status.leaders
            if q.vhost == vhost
        ]
    counts = queues_led(status.leaders)
    lines.append("queues led: " + ", ".join(f"{n} {c}" for n, c in counts.most_common()))
    return lines
