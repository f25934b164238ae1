"""BROKER_QUEUE_TYPE=quorum on the real broker: `.env` alone gives quorum queues whose policies
RabbitMQ applies (at-least-once dead-lettering, the delivery limit, no limit on the sinks), and
`check` is clean afterwards. On one node here; on a cluster: tests/e2e/test_scenario_cluster.py.

`make test` runs this file on RabbitMQ 3.10 and on 4.x. On 4.x a quorum queue that no policy
limits still has a delivery limit (RabbitMQ's default): the sinks' policy lifts it, and a test
here checks that the default is what the definition assumes."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from services.common import topology as t
from tests.support.broker import TestBroker, x_death_reason
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, REPO_ROOT
from tests.support.quorum import QuorumVhost

QUEUE = t.INVENTORY_EVENTS_QUEUE
DLQ = f"{QUEUE}.dlq"


def provision_cli(command: str, vhost: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BROKER_QUEUE_TYPE"}
    return subprocess.run(
        [PYTHON, "-m", "broker.provision", command, "--vhost", vhost],
        cwd=REPO_ROOT,
        env={**env, "SHOPFLOW_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def effective_policy(broker: TestBroker, queue: str) -> dict[str, Any]:
    """What RabbitMQ applies to `queue` (shown once the queue's statistics name a policy)."""

    def probe() -> dict[str, Any] | None:
        with broker.management() as api:
            found = api.queue(broker.vhost, queue) or {}
        return found.get("effective_policy_definition") if found.get("policy") else None

    return wait_until(probe, timeout=30, interval=0.5, message=f"{queue}'s policy shown")


def version(broker: TestBroker) -> tuple[int, int]:
    with broker.management() as api:
        return api.rabbitmq_version()


def policy_of(broker: TestBroker, queue: str) -> dict[str, str | int]:
    """The definition of the policy the vhost tool puts on `queue`."""
    queue_policies = [p for p in broker.topology.policies if p.apply_to == "queues"]
    [policy] = [p for p in queue_policies if re.fullmatch(p.pattern, queue)]
    return policy.definition


def deliveries_until_dead_lettered(ch: BlockingChannel, queue: str, most: int) -> int:
    """Get and reject (requeue) the one message in `queue` until it is gone; how many times it
    was delivered. Fails past `most` deliveries."""
    for delivery in range(most + 1):
        method, _, _ = ch.basic_get(queue)
        if method is None:
            return delivery
        ch.basic_reject(method.delivery_tag, requeue=True)  # the ingress's requeue()
    raise AssertionError(f"still delivered after {most + 1} deliveries")


def test_the_env_file_alone_makes_a_quorum_vhost_that_check_finds_in_sync(
    broker: TestBroker, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BROKER_QUEUE_TYPE=quorum\n")
    vhost = f"{broker.vhost}-envfile"
    try:
        applied = provision_cli("apply", vhost, env_file)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        checked = provision_cli("check", vhost, env_file)
        assert checked.returncode == 0, checked.stdout
        assert checked.stdout.strip().endswith(f"vhost {vhost}: in sync")
        with broker.management() as api:
            queues = api.get(api.path("queues", vhost) + "?columns=name,type") or []
        logs = {s.name for s in broker.topology.streams}  # streams whatever the queue type
        assert {q["name"] for q in queues} == {q.name for q in broker.topology.queues} | logs
        assert {q["type"] for q in queues if q["name"] not in logs} == {"quorum"}
        assert {q["type"] for q in queues if q["name"] in logs} == {"stream"}
    finally:
        with broker.management() as api:
            api.delete_vhost(vhost)
            for user in t.build(vhost).users:  # the vhost tool made its logins too
                api.delete_user(user.name)


def test_rabbitmq_applies_the_quorum_policies(quorum_vhost: QuorumVhost) -> None:
    b = quorum_vhost.broker
    working = effective_policy(b, QUEUE)
    assert working == {
        "dead-letter-exchange": "inventory.dlx",
        "dead-letter-routing-key": QUEUE,
        "dead-letter-strategy": "at-least-once",
        "overflow": "reject-publish",
        "delivery-limit": t.DELIVERY_LIMIT,
        "queue-leader-locator": "balanced",
    }
    # RabbitMQ 3.10 has no default limit and refuses -1: there the sinks' policy leaves it out
    sink: dict[str, str | int] = {"queue-leader-locator": "balanced"}
    if version(b) >= (4, 0):
        sink["delivery-limit"] = t.UNLIMITED_DELIVERIES
    assert effective_policy(b, DLQ) == sink


def test_a_rejected_event_reaches_its_dlq(quorum_vhost: QuorumVhost) -> None:
    b = quorum_vhost.broker
    b.purge_all()
    b.publish_raw(b"{}", exchange=t.ORDERS_EXCHANGE, routing_key=t.ORDER_PLACED)
    with b.channel() as ch:
        method, _, _ = ch.basic_get(QUEUE)
        assert method is not None
        ch.basic_reject(method.delivery_tag, requeue=False)
    wait_until(lambda: b.ready(DLQ) == 1, message="the dead letter in the DLQ")
    [(props, _)] = b.drain(DLQ)
    assert x_death_reason(props) == "rejected"


def test_the_delivery_limit_dead_letters_a_message_that_keeps_coming_back(
    quorum_vhost: QuorumVhost,
) -> None:
    """A message is delivered `delivery-limit` + 1 times (the limit the vhost tool put in the
    queue's policy); returned once more, the broker dead-letters it (reason `delivery_limit`)
    instead of redelivering it forever."""
    b = quorum_vhost.broker
    limit = policy_of(b, QUEUE)["delivery-limit"]
    assert isinstance(limit, int)
    assert limit > 0
    b.purge_all()
    b.publish_raw(b"{}", exchange=t.ORDERS_EXCHANGE, routing_key=t.ORDER_PLACED)
    with b.channel() as ch:
        delivered = deliveries_until_dead_lettered(ch, QUEUE, most=limit + 5)
        wait_until(lambda: b.ready(DLQ) == 1, message="the message dead-lettered")
    assert delivered == limit + 1
    [(props, _)] = b.drain(DLQ)
    assert x_death_reason(props) == "delivery_limit"


def test_rabbitmq_4_limits_the_deliveries_of_a_quorum_queue_no_policy_limits(
    quorum_vhost: QuorumVhost,
) -> None:
    """What the sinks' `delivery-limit: -1` is for: on 4.x a quorum queue with no limit of its
    own dead-letters (or, with no dead-letter exchange, drops) a message after RabbitMQ's default
    number of redeliveries."""
    b = quorum_vhost.broker
    if version(b) < (4, 0):
        pytest.skip("RabbitMQ 3 sets no default delivery limit")
    probe, sink = f"probe-{secrets.token_hex(4)}", f"probe-sink-{secrets.token_hex(4)}"
    with b.channel() as ch:
        ch.queue_declare(sink, durable=True, arguments={"x-queue-type": "quorum"})
        arguments = {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": sink,
        }
        ch.queue_declare(probe, durable=True, arguments=arguments)
        try:
            ch.confirm_delivery()  # the message is in the queue before the first get
            ch.basic_publish("", probe, b"{}", pika.BasicProperties(delivery_mode=2))
            delivered = deliveries_until_dead_lettered(
                ch, probe, most=t.RABBITMQ4_DEFAULT_DELIVERY_LIMIT + 5
            )
            dead = wait_until(lambda: ch.basic_get(sink, auto_ack=True), message="dead-lettered")
        finally:
            ch.queue_delete(probe)
            ch.queue_delete(sink)
    assert delivered == t.RABBITMQ4_DEFAULT_DELIVERY_LIMIT + 1
    assert x_death_reason(dead[1]) == "delivery_limit"


def test_a_dead_letter_can_be_looked_at_any_number_of_times(quorum_vhost: QuorumVhost) -> None:
    """Each "Get messages" in the management UI returns the message to the queue; with a
    delivery limit on a DLQ (RabbitMQ 4's default) the 21st look would drop it."""
    b = quorum_vhost.broker
    b.purge_all()
    b.publish_raw(
        b"{}",
        exchange="inventory.dlx",
        routing_key=QUEUE,
        properties=pika.BasicProperties(message_id="looked-at", delivery_mode=2),
    )
    with b.management() as api:
        for _ in range(t.RABBITMQ4_DEFAULT_DELIVERY_LIMIT + 5):
            [seen] = api.get_messages(b.vhost, DLQ, count=1)
            assert seen["properties"]["message_id"] == "looked-at"
    assert b.ready(DLQ) == 1
