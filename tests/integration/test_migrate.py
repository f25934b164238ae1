"""Changing the queue type of a vhost that holds messages: `check` names each queue of the other
type, `apply` refuses and changes nothing, and `migrate` rebuilds the queues with every message
(and its headers: a dead letter keeps its x-death), also when an earlier run stopped half-way.
The event logs are streams whatever the queue type: `migrate` leaves them, and what they hold,
alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest

from broker.provision import run as provision
from broker.provision.migrate import move_messages
from services.common import topology as t
from tests.support.broker import TestBroker, x_death_reason
from tests.support.event_log import logged
from tests.support.polling import wait_until
from tests.support.quorum import provisioned_vhost

CLASSIC, QUORUM = t.QueueType.CLASSIC, t.QueueType.QUORUM
MIGRATE = "python -m broker.provision migrate"


@pytest.fixture
def classic(test_broker: TestBroker) -> Iterator[TestBroker]:
    with provisioned_vhost(test_broker, CLASSIC, "test-migrate") as broker:
        yield broker


def run(command: str, broker: TestBroker, queue_type: t.QueueType) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = provision(command, broker.vhost, out=lines.append, queue_type=queue_type)
    return code, lines


def publish(broker: TestBroker, exchange: str, key: str, ids: list[str]) -> None:
    for message_id in ids:
        props = pika.BasicProperties(
            message_id=message_id, delivery_mode=2, content_type="application/json"
        )
        broker.publish_raw(
            message_id.encode(), exchange=exchange, routing_key=key, properties=props
        )


def fill(broker: TestBroker, tag: str) -> dict[str, list[str]]:
    """Messages waiting in an event queue, a task queue, an unroutable sink and a DLQ (a real
    dead letter, with x-death). Returns queue -> message ids, in queue order."""
    events = [f"{tag}-event-{i}" for i in range(20)]
    publish(broker, t.ORDERS_EXCHANGE, t.ORDER_PLACED, events)
    publish(broker, "inventory.tasks", "inventory.tasks", [f"{tag}-task"])
    publish(broker, t.ORDERS_EXCHANGE, "order.unknown", [f"{tag}-unroutable"])
    with broker.channel() as ch:  # the first event, rejected: inventory.orders.dlq
        method, _, _ = ch.basic_get(t.INVENTORY_EVENTS_QUEUE)
        assert method is not None
        ch.basic_reject(method.delivery_tag, requeue=False)
    wait_until(lambda: broker.ready(f"{t.INVENTORY_EVENTS_QUEUE}.dlq") == 1, message="dead letter")
    return {
        t.INVENTORY_EVENTS_QUEUE: events[1:],
        t.EMAIL_EVENTS_QUEUE: events,
        "inventory.tasks": [f"{tag}-task"],
        t.ORDERS_UNROUTABLE_QUEUE: [f"{tag}-unroutable"],
        f"{t.INVENTORY_EVENTS_QUEUE}.dlq": events[:1],
    }


def types(broker: TestBroker) -> dict[str, str]:
    """The type of every queue of the vhost but the event logs (`stream_types`)."""
    return {
        name: kind
        for name, kind in every_type(broker).items()
        if name not in {s.name for s in broker.topology.streams}
    }


def stream_types(broker: TestBroker) -> dict[str, str]:
    found = every_type(broker)
    return {s.name: found[s.name] for s in broker.topology.streams}


def every_type(broker: TestBroker) -> dict[str, str]:
    with broker.management() as api:
        queues = api.get(api.path("queues", broker.vhost) + "?columns=name,type") or []
    return {q["name"]: q["type"] for q in queues}


def policies(broker: TestBroker) -> list[dict[str, Any]]:
    with broker.management() as api:
        return sorted(api.get(api.path("policies", broker.vhost)) or [], key=lambda p: p["name"])


def assert_holds(broker: TestBroker, expected: dict[str, list[str]]) -> None:
    for queue in (q.name for q in broker.topology.queues):
        got = broker.drain(queue)
        assert [p.message_id for p, _ in got] == expected.get(queue, []), queue
        assert [body.decode() for _, body in got] == expected.get(queue, []), queue
        if queue == f"{t.INVENTORY_EVENTS_QUEUE}.dlq":
            [(props, _)] = got
            assert x_death_reason(props) == "rejected"
            assert props.content_type == "application/json"
            assert props.delivery_mode == 2


def test_check_names_each_queue_of_the_other_type_and_apply_changes_nothing(
    classic: TestBroker,
) -> None:
    before = policies(classic)
    code, lines = run("check", classic, QUORUM)
    assert code == 1
    for queue in (q.name for q in classic.topology.queues):
        assert f"drift: queue {queue} is classic, BROKER_QUEUE_TYPE says quorum" in "\n".join(lines)
    code, lines = run("apply", classic, QUORUM)
    assert code == 2
    refusals = [line for line in lines if line.startswith("refusing to apply: queue ")]
    assert len(refusals) == len(classic.topology.queues)
    assert all(f"`{MIGRATE}`" in line for line in refusals)
    assert set(types(classic).values()) == {"classic"}
    assert policies(classic) == before  # quorum-only keys would strip classic queues' DLX


def test_migrate_refuses_while_a_queue_to_rebuild_is_consumed(classic: TestBroker) -> None:
    with classic.channel() as ch:
        ch.basic_consume(t.EMAIL_EVENTS_QUEUE, lambda *_: None)
        code, lines = run("migrate", classic, QUORUM)
    assert code == 2
    assert f"queues with consumers: {t.EMAIL_EVENTS_QUEUE} (1)" in "\n".join(lines)
    assert set(types(classic).values()) == {"classic"}


def test_migrate_keeps_every_waiting_message_in_order(classic: TestBroker) -> None:
    expected = fill(classic, "classic")
    log = "orders.log"
    assert [d.properties.message_id for d in logged(classic, log)] == expected["email.orders"]
    code, lines = run("migrate", classic, QUORUM)
    assert code == 0, lines
    assert set(types(classic).values()) == {"quorum"}
    assert set(stream_types(classic).values()) == {"stream"}  # untouched, and what they hold
    assert [d.properties.message_id for d in logged(classic, log)] == expected["email.orders"]
    assert not any(name.endswith(".migrating") for name in types(classic))
    assert run("check", classic, QUORUM) == (0, [f"vhost {classic.vhost}: in sync"])
    assert_holds(classic, expected)


def test_a_migration_stopped_half_way_finishes_when_run_again(classic: TestBroker) -> None:
    """Back from quorum to classic, after a run that stopped once `email.orders` was emptied
    into its holding queue (steps 1 and 2) and unbound."""
    assert run("migrate", classic, QUORUM)[0] == 0
    expected = fill(classic, "quorum")
    hold = f"{t.EMAIL_EVENTS_QUEUE}.migrating"
    with classic.channel() as ch:
        ch.confirm_delivery()
        ch.queue_declare(hold, durable=True, arguments={"x-queue-type": "classic"})
        for b in classic.topology.bindings_of(t.EMAIL_EVENTS_QUEUE):
            ch.queue_bind(hold, b.exchange, b.routing_key)
            ch.queue_unbind(t.EMAIL_EVENTS_QUEUE, b.exchange, b.routing_key)
        assert move_messages(ch, t.EMAIL_EVENTS_QUEUE, hold) == 20
    code, lines = run("check", classic, CLASSIC)
    assert f"drift: unexpected queue {hold}: left by an unfinished `{MIGRATE}`" in "\n".join(lines)

    code, lines = run("migrate", classic, CLASSIC)
    assert code == 0, lines
    assert set(types(classic).values()) == {"classic"}
    assert run("check", classic, CLASSIC) == (0, [f"vhost {classic.vhost}: in sync"])
    assert_holds(classic, expected)


def test_a_migration_stopped_while_moving_messages_back_finishes_when_run_again(
    classic: TestBroker,
) -> None:
    """The queue has its new type and its bindings again; its messages are still in the holding
    queue (step 4 stopped)."""
    assert run("migrate", classic, QUORUM)[0] == 0
    expected = fill(classic, "back")
    hold = f"{t.EMAIL_EVENTS_QUEUE}.migrating"
    with classic.channel() as ch:
        ch.confirm_delivery()
        ch.queue_declare(hold, durable=True, arguments={"x-queue-type": "quorum"})
        assert move_messages(ch, t.EMAIL_EVENTS_QUEUE, hold) == 20

    code, lines = run("migrate", classic, QUORUM)
    assert code == 0, lines
    assert f"{hold}: 20 message(s) moved back into {t.EMAIL_EVENTS_QUEUE}" in lines
    assert hold not in types(classic)
    assert run("check", classic, QUORUM) == (0, [f"vhost {classic.vhost}: in sync"])
    assert_holds(classic, expected)
