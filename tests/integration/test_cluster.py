"""The local cluster tool (`python -m broker.cluster`) on a real three-node cluster.

One cluster serves the module (a start takes about 30 s); every test leaves it whole, except the
last, which takes it down through the CLI. The policy tests pin what RabbitMQ 3.10 does with the
quorum-queue policy keys, as docs/scaling.md reports it.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from broker.cluster.lifecycle import registered_nodes
from broker.cluster.status import RUNNING, node_state
from services.common import topology as t
from tests.support.cluster import TestCluster
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, REPO_ROOT, provision_vhost

QUORUM = {"x-queue-type": "quorum"}
PERSISTENT = pika.BasicProperties(delivery_mode=2)


def cli(
    cluster: TestCluster, *args: str, state_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The tool's CLI, by default on the module's cluster."""
    where = ["--state-dir", str(state_dir or cluster.layout.state_dir)]
    return subprocess.run(
        [PYTHON, "-m", "broker.cluster", *args, *where],
        cwd=REPO_ROOT,
        env={**os.environ, "BROKER_ADMIN_USER": "guest", "BROKER_ADMIN_PASSWORD": "guest"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def queue(cluster: TestCluster, name: str) -> dict[str, Any]:
    """The queue as the management API shows it, once its statistics name a policy."""

    def probe() -> dict[str, Any] | None:
        with cluster.management() as api:
            q = api.queue("/", name)
        return q if q and q.get("policy") else None

    return wait_until(probe, timeout=30, interval=0.5, message=f"{name}'s policy shown")


def set_policy(
    cluster: TestCluster, name: str, pattern: str, definition: dict[str, Any], priority: int = 0
) -> None:
    body = {
        "pattern": pattern,
        "apply-to": "queues",
        "definition": definition,
        "priority": priority,
    }
    with cluster.management() as api:
        api.put(api.path("policies", "/", name), body)


# -- the cluster --------------------------------------------------------------------------------


def test_three_nodes_form_one_cluster(rabbit_cluster: TestCluster) -> None:
    names = sorted(n.name for n in rabbit_cluster.nodes)
    for node in rabbit_cluster.nodes:
        state = node_state(node)
        assert state.state == RUNNING
        assert list(state.members) == names
        assert list(state.sees_running) == names
        with rabbit_cluster.management(node) as api:
            seen = sorted((n["name"], n["running"]) for n in api.get("/nodes") or [])
        assert seen == [(name, True) for name in names]
    assert {n.partition("@")[0] for n in names} <= registered_nodes().keys()


@pytest.mark.documents("make cluster-up")
def test_a_second_up_changes_nothing(rabbit_cluster: TestCluster) -> None:
    proc = cli(rabbit_cluster, "up")
    assert proc.returncode == 0, proc.stderr
    assert "the cluster is already running; nothing changed" in proc.stdout
    every = ",".join(f"127.0.0.1:{n.ports.amqp}" for n in rabbit_cluster.nodes)
    assert f"export BROKER_NODES={every}\n" in proc.stdout


@pytest.mark.documents(".venv/bin/python -m broker.cluster status")
def test_status_shows_each_node_and_each_quorum_queue_leader(rabbit_cluster: TestCluster) -> None:
    second = rabbit_cluster.nodes[1]
    with rabbit_cluster.connect(second) as conn:  # the declaring node leads ("client-local")
        conn.channel().queue_declare("status-probe", durable=True, arguments=QUORUM)
    proc = cli(rabbit_cluster, "status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for node in rabbit_cluster.nodes:
        assert re.search(
            rf"^{re.escape(node.name)} +running +{node.ports.amqp} ", proc.stdout, re.M
        )
    assert "cluster: whole" in proc.stdout
    assert f"    status-probe: {second.name} (3/3 online)\n" in proc.stdout


def test_up_names_the_taken_node_name_or_port(rabbit_cluster: TestCluster, tmp_path: Path) -> None:
    taken_name = rabbit_cluster.layout.name
    proc = cli(rabbit_cluster, "up", "--name", taken_name, state_dir=tmp_path / "a")
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: node name {taken_name}-1@localhost is taken by another Erlang node (distribution "
        f"port {rabbit_cluster.nodes[0].ports.dist}): stop it, or choose another --name\n"
    )
    taken_port = rabbit_cluster.nodes[0].ports.amqp
    args = ["--name", "portcheck", "--amqp-port", str(taken_port)]
    proc = cli(rabbit_cluster, "up", *args, state_dir=tmp_path / "b")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: port {taken_port} (AMQP of portcheck-1@localhost) is")
    assert list(tmp_path.iterdir()) == []  # a refused `up` writes nothing


def test_a_quorum_queue_keeps_every_confirmed_message_when_its_leader_is_killed(
    rabbit_cluster: TestCluster,
) -> None:
    bodies = [f"message-{i}".encode() for i in range(300)]
    with rabbit_cluster.connect(rabbit_cluster.nodes[0]) as conn:
        ch = conn.channel()
        ch.queue_declare("survivor", durable=True, arguments=QUORUM)
        ch.confirm_delivery()
        for body in bodies:  # each call returns once a majority of the nodes has the message
            ch.basic_publish("", "survivor", body, PERSISTENT, mandatory=True)
    leader = wait_until(lambda: rabbit_cluster.leaders().get("survivor"), message="a leader")
    victim = rabbit_cluster.node(leader)

    rabbit_cluster.kill9(victim)
    wait_until(
        lambda: rabbit_cluster.leaders().get("survivor") not in (None, victim.name),
        message="a new leader",
    )
    reader = next(n for n in rabbit_cluster.nodes if n is not victim)
    with rabbit_cluster.connect(reader) as conn:
        got = drain(conn.channel(), "survivor")
    assert sorted(got) == sorted(bodies)  # nothing lost, nothing doubled

    rabbit_cluster.start(victim)  # it rejoins with its data
    assert node_state(victim).state == RUNNING


def drain(ch: BlockingChannel, queue_name: str) -> list[bytes]:
    got: list[bytes] = []
    while True:
        method, _, body = ch.basic_get(queue_name)
        if method is None:
            return got
        got.append(body)
        ch.basic_ack(method.delivery_tag)


@pytest.mark.documents("make cluster-up")
def test_the_system_provisions_onto_the_cluster_as_printed(rabbit_cluster: TestCluster) -> None:
    """`up` prints BROKER_* settings; the vhost tool, given them, makes quorum queues on it (and
    the event logs, streams, on all three nodes too)."""
    printed = cli(rabbit_cluster, "up").stdout
    settings = dict(re.findall(r"^  export (BROKER_\w+)=(\S+)$", printed, re.M))
    vhost = "provisioned"
    provision_vhost(vhost, settings)
    logs = {t.event_log(exchange) for exchange in t.EVENT_EXCHANGES}

    def kinds() -> set[tuple[bool, str, int]] | None:
        with rabbit_cluster.management() as api:
            queues = api.get(api.path("queues", vhost) + "?columns=name,type,members") or []
        if not queues or any("members" not in q for q in queues):
            return None  # a stream's members show in the management stats a moment later
        return {(q["name"] in logs, q["type"], len(q["members"])) for q in queues}

    found = wait_until(kinds, timeout=30, message="every queue's members in the management API")
    assert found == {(False, "quorum", 3), (True, "stream", 3)}


# -- what RabbitMQ 3.10 does with quorum-queue policy keys (docs/scaling.md) ----------------------


def test_at_least_once_and_delivery_limit_are_effective_on_a_quorum_queue(
    rabbit_cluster: TestCluster,
) -> None:
    definition = {
        "dead-letter-exchange": "dlx",
        "dead-letter-routing-key": "poison",
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
        "delivery-limit": 2,
    }
    set_policy(rabbit_cluster, "poison", "^poison$", definition)
    with rabbit_cluster.connect(rabbit_cluster.nodes[0]) as conn:
        ch = conn.channel()
        ch.exchange_declare("dlx", "direct", durable=True)
        ch.queue_declare("poison.dlq", durable=True, arguments=QUORUM)
        ch.queue_bind("poison.dlq", "dlx", "poison")
        ch.queue_declare("poison", durable=True, arguments=QUORUM)
        assert queue(rabbit_cluster, "poison")["effective_policy_definition"] == definition

        ch.basic_publish("", "poison", b"poison", PERSISTENT)
        deliveries = redeliver_until_dead(conn, ch, "poison")
        _, props, body = ch.basic_get("poison.dlq", auto_ack=True)
    assert deliveries == 3  # delivery-limit 2: the first delivery and two redeliveries
    assert body == b"poison"
    assert props.headers["x-death"][0]["reason"] == "delivery_limit"


def redeliver_until_dead(conn: pika.BlockingConnection, ch: BlockingChannel, name: str) -> int:
    """Consume `name` and requeue every delivery until its DLQ holds the message."""
    deliveries = []

    def requeue(ch: BlockingChannel, method: Basic.Deliver, _: BasicProperties, __: bytes) -> None:
        deliveries.append(method.delivery_tag)
        ch.basic_nack(method.delivery_tag, requeue=True)

    ch.basic_qos(prefetch_count=1)  # per consumer: a quorum queue refuses global QoS (540)
    tag = ch.basic_consume(name, requeue)

    def dead_lettered() -> bool:
        conn.process_data_events(time_limit=0.1)
        count: int = ch.queue_declare(f"{name}.dlq", passive=True).method.message_count
        return count == 1

    wait_until(dead_lettered, timeout=30, message=f"{name} dead-lettered")
    ch.basic_cancel(tag)
    return len(deliveries)


def test_at_least_once_without_reject_publish_falls_back_to_at_most_once(
    rabbit_cluster: TestCluster,
) -> None:
    definition = {"dead-letter-exchange": "dlx", "dead-letter-strategy": "at-least-once"}
    set_policy(rabbit_cluster, "fallback", "^fallback$", definition)
    with rabbit_cluster.connect(rabbit_cluster.nodes[0]) as conn:
        conn.channel().queue_declare("fallback", durable=True, arguments=QUORUM)
    # shown as effective, but the overflow is drop-head (the default), so the queue says:
    assert queue(rabbit_cluster, "fallback")["effective_policy_definition"] == definition
    logs = [n.log_dir / f"{n.name}.log" for n in rabbit_cluster.nodes]
    warning = "Falling back to dead-letter-strategy at-most-once for queue 'fallback'"
    wait_until(
        lambda: any(warning in log.read_text() for log in logs),
        timeout=30,
        message="the fallback warning in a node's log",
    )


def test_a_policy_with_a_key_a_queue_type_does_not_know_skips_that_type(
    rabbit_cluster: TestCluster,
) -> None:
    """The queue takes the next matching policy instead: the skipped policy's keys are lost."""
    fallback = {"dead-letter-exchange": "dlx"}
    set_policy(rabbit_cluster, "mixed-fallback", r"^mixed\.", fallback, priority=10)
    classic_only = {**fallback, "queue-mode": "lazy"}
    set_policy(rabbit_cluster, "classic-only", r"^mixed\.quorum$", classic_only, priority=20)
    quorum_only = {**fallback, "delivery-limit": 5}
    set_policy(rabbit_cluster, "quorum-only", r"^mixed\.classic$", quorum_only, priority=20)
    with rabbit_cluster.connect(rabbit_cluster.nodes[0]) as conn:
        ch = conn.channel()
        ch.queue_declare("mixed.quorum", durable=True, arguments=QUORUM)
        ch.queue_declare("mixed.classic", durable=True)
    for name in ("mixed.quorum", "mixed.classic"):
        q = queue(rabbit_cluster, name)
        assert (q["policy"], q["effective_policy_definition"]) == ("mixed-fallback", fallback)


# -- last: down ---------------------------------------------------------------------------------


@pytest.mark.documents(".venv/bin/python -m broker.cluster down --keep", "make cluster-down")
def test_down_leaves_no_process_behind(rabbit_cluster: TestCluster) -> None:
    proc = cli(rabbit_cluster, "down", "--keep")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"stopped 3 node(s); data kept in {rabbit_cluster.layout.state_dir}\n"
    for node in rabbit_cluster.nodes:
        assert node.processes() == []
        assert (node.home / "mnesia").is_dir()
    assert not {n.name.partition("@")[0] for n in rabbit_cluster.nodes} & registered_nodes().keys()

    proc = cli(rabbit_cluster, "down")
    assert proc.stdout == "stopped 0 node(s), data removed\n"
    assert not rabbit_cluster.layout.state_dir.exists()
