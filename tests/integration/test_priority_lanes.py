"""Priority lanes on the real broker (docs/priorities.md): an express event published by the
relay's own publisher after standard ones is delivered first from a classic event queue, and a
vhost whose event queues predate the lanes is pointed to `migrate` by `apply` and rebuilt by
`migrate` with every message kept."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker
from pydantic import SecretStr

from broker.provision import run as provision
from services.common import topology as t
from services.common.events import Envelope
from services.common.outbox import OutboundMessage, PikaPublisher
from tests.support.broker import TestBroker
from tests.support.factories import order_placed
from tests.support.quorum import provisioned_vhost

CLASSIC = t.QueueType.CLASSIC
MIGRATE = "python -m broker.provision migrate"
QUEUE = t.INVENTORY_EVENTS_QUEUE


@pytest.fixture
def classic(test_broker: TestBroker) -> Iterator[TestBroker]:
    with provisioned_vhost(test_broker, CLASSIC, "test-priority") as broker:
        yield broker


def run(command: str, broker: TestBroker) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = provision(command, broker.vhost, out=lines.append, queue_type=CLASSIC)
    return code, lines


def message(row_id: int, priority: int | None) -> OutboundMessage:
    envelope = Envelope.wrap(order_placed())
    body = envelope.to_json_bytes()
    return OutboundMessage(row_id, envelope.id, t.ORDER_PLACED, envelope.id, body, None, priority)


def max_priority(broker: TestBroker, queue: str) -> object:
    with broker.management() as api:
        found = api.queue(broker.vhost, queue)
    assert found is not None
    return (found.get("arguments") or {}).get(t.MAX_PRIORITY_ARGUMENT)


def test_an_express_event_published_after_standard_ones_is_delivered_first(
    classic: TestBroker,
) -> None:
    assert max_priority(classic, QUEUE) == t.CLASSIC_MAX_PRIORITY
    standard = [message(i, t.STANDARD_PRIORITY) for i in range(1, 21)]
    older = message(21, None)  # a row written before the lanes: no priority, the normal lane
    express = message(22, t.EXPRESS_PRIORITY)
    urls = classic.settings.amqp_urls(classic.admin_user, SecretStr(classic.admin_password))
    publisher = PikaPublisher(urls, t.ORDERS_EXCHANGE, name="test-priority")
    try:
        result = publisher.publish_batch([*standard, older, express])
    finally:
        publisher.close()
    assert result.failure is None
    got = classic.drain(QUEUE)
    assert [p.message_id for p, _ in got] == [
        express.event_id,
        *(m.event_id for m in standard),
        older.event_id,
    ]
    assert [p.priority for p, _ in got] == [t.EXPRESS_PRIORITY, *[0] * 20, None]


def _without_lanes(broker: TestBroker, queue: str) -> None:
    """`queue` as the vhost tool declared it before the lanes: no x-max-priority."""
    with broker.channel() as ch:
        ch.queue_delete(queue)
        ch.queue_declare(queue, durable=True, arguments=dict(broker.topology.queue_arguments))
        for b in broker.topology.bindings_of(queue):
            ch.queue_bind(queue, b.exchange, b.routing_key)


def _publish(broker: TestBroker, ids: list[str], priority: int | None) -> None:
    for message_id in ids:
        props = pika.BasicProperties(
            message_id=message_id,
            delivery_mode=2,
            content_type="application/json",
            priority=priority,
        )
        broker.publish_raw(
            message_id.encode(),
            exchange=t.ORDERS_EXCHANGE,
            routing_key=t.ORDER_PLACED,
            properties=props,
        )


def test_apply_points_an_old_queue_to_migrate_and_migrate_keeps_every_message(
    classic: TestBroker,
) -> None:
    _without_lanes(classic, QUEUE)
    standard = [f"standard-{i}" for i in range(30)]
    express = [f"express-{i}" for i in range(3)]
    _publish(classic, standard, None)
    _publish(classic, express, t.EXPRESS_PRIORITY)
    assert max_priority(classic, QUEUE) is None

    # declaring it again with the lanes is what the broker refuses
    with pytest.raises(ChannelClosedByBroker) as refused, classic.channel() as ch:
        ch.queue_declare(QUEUE, durable=True, arguments=classic.topology.arguments_of(QUEUE))
    assert refused.value.reply_code == 406  # PRECONDITION_FAILED

    code, lines = run("check", classic)
    assert code == 1
    assert f"drift: queue {QUEUE} has no priorities" in "\n".join(lines)
    code, lines = run("apply", classic)
    assert code == 2, lines
    [needs] = [line for line in lines if line.startswith("needs you: ")]
    assert f"queue {QUEUE} has no priorities" in needs
    assert f"`{MIGRATE}` rebuilds it and keeps its messages" in needs
    assert classic.ready(QUEUE) == 33  # apply touched nothing

    code, lines = run("migrate", classic)
    assert code == 0, lines
    lanes = f"{t.MAX_PRIORITY_ARGUMENT} {t.CLASSIC_MAX_PRIORITY}"
    assert f"{QUEUE}: now a classic queue with {lanes}" in lines
    assert max_priority(classic, QUEUE) == t.CLASSIC_MAX_PRIORITY
    assert run("check", classic) == (0, [f"vhost {classic.vhost}: in sync"])
    got = classic.drain(QUEUE)
    # every message, with its priority, and the express ones now served first
    assert [p.message_id for p, _ in got] == express + standard
    assert [p.priority for p, _ in got] == [t.EXPRESS_PRIORITY] * 3 + [None] * 30
