"""The system on a three-node RabbitMQ cluster with quorum queues, every process real and every
client listing all three nodes (BROKER_NODES): provisioned by the vhost tool, it passes the
end-to-end scenario (`python -m scenario`), and passes it again after the node every client
was connected to has been killed: losing it is a reconnect, not an outage. SQLite databases.

The cluster is the `rabbit_cluster` fixture's (tests/support/cluster.py): private ports and
node names, so the machine's shared node is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from broker.local_node import LocalNode
from services.common import topology as t
from tests.support.cluster import TestCluster
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess, run_provision
from tests.support.system import System, running_system

VHOST = "scenario-cluster"


def cluster_env(nodes: list[LocalNode]) -> dict[str, str]:
    """The settings that point a process at the cluster, `nodes[0]` first."""
    return {
        "BROKER_NODES": ",".join(f"127.0.0.1:{n.ports.amqp}" for n in nodes),
        "BROKER_MANAGEMENT_URL": nodes[0].management_url,
        "BROKER_QUEUE_TYPE": "quorum",
        "BROKER_VHOST": VHOST,
        "BROKER_ADMIN_USER": "guest",  # every node is on loopback, where guest may log in
        "BROKER_ADMIN_PASSWORD": "guest",
    }


@dataclass
class ClusterSystem:
    cluster: TestCluster
    system: System


@pytest.fixture(scope="module")
def on_cluster(
    rabbit_cluster: TestCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterSystem]:
    env = cluster_env(rabbit_cluster.nodes)
    applied = run_provision("apply", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    with running_system(tmp_path_factory.mktemp("cluster-system"), extra_env=env) as system:
        yield ClusterSystem(rabbit_cluster, system)


def run_scenario(system: System, env: dict[str, str], name: str) -> dict[str, Any]:
    scenario = ServiceProcess(
        name,
        [PYTHON, "-m", "scenario", "--json", "--orders", "4", "--timeout", "120"],
        system.tmp / "logs",
        env={**system.env, **env},
    )
    scenario.start()
    assert scenario.proc is not None
    code = scenario.proc.wait(timeout=300)
    output = scenario.log()
    result: dict[str, Any] = json.loads(output[output.index("{") :])
    failed = [c for c in result["checks"] if not c["ok"]]
    assert code == 0, f"scenario failed: {failed}\n{output[-3000:]}"
    assert result["ok"] is True
    return result


def test_every_queue_is_a_quorum_queue_on_every_node_and_check_is_clean(
    on_cluster: ClusterSystem,
) -> None:
    cluster = on_cluster.cluster
    checked = run_provision("check", env=cluster_env(cluster.nodes))
    assert checked.returncode == 0, checked.stdout
    with cluster.management() as api:
        found = api.get(api.path("queues", VHOST) + "?columns=name,durable,type,members") or []
    logs = {s.name for s in t.build(VHOST).streams}  # streams whatever the queue type
    assert {q["type"] for q in found if q["name"] in logs} == {"stream"}
    queues = [q for q in found if q["durable"] and q["name"] not in logs]  # nor pidbox queues
    assert {q["name"] for q in queues} == {q.name for q in t.build(VHOST).queues}
    every = sorted(n.name for n in cluster.nodes)
    assert {(q["type"], tuple(sorted(q["members"]))) for q in queues} == {("quorum", tuple(every))}
    # queue-leader-locator: balanced; declared through node 1, they do not all lead there
    assert set(cluster.leaders(VHOST).values()) == set(every)


@pytest.mark.documents("make up", "make scenario")
def test_the_scenario_passes_on_the_cluster(on_cluster: ClusterSystem) -> None:
    result = run_scenario(on_cluster.system, {}, "scenario")
    statuses = sorted(o["status"] for o in result["orders"])
    assert statuses == ["CONFIRMED"] * 5 + ["REJECTED"]


def test_it_passes_again_after_the_node_every_client_used_is_killed(
    on_cluster: ClusterSystem,
) -> None:
    cluster, system = on_cluster.cluster, on_cluster.system
    first, *others = cluster.nodes
    cluster.kill9(first)  # every client listed it first, so every client was connected to it
    # Queues it led elect a new leader within seconds. A message dead-lettered into a DLQ that is
    # still electing one waits for the broker's resend (3 minutes by default, docs/scaling.md), so
    # the scenario's poison check starts once every queue is led by a live node.
    alive = {n.name for n in others}
    wait_until(
        lambda: set(cluster.leaders(VHOST).values()) <= alive,
        timeout=60,
        interval=0.5,
        message="every queue led by a live node",
    )
    # the scenario itself is a client like the others, pointed at a node that is up
    result = run_scenario(system, cluster_env(others), "scenario-after-kill")
    assert result["orders"]
    for name, proc in system.procs.items():
        assert proc.alive(), f"{name} exited after the node died:\n{proc.log()[-3000:]}"
