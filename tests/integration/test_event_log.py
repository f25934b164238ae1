"""The event logs on the real broker: the broker fills each one from its exchange (no service
publishes anything more), a key that is no event type still goes to the unroutable sink, the
retention policy is the one RabbitMQ applies, a replay's marker ends a read exactly, and the
vhost tool reports and repairs drift in the logs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pika
import pytest

from broker.provision import run as provision
from broker.replay_log import AmqpEventLog
from services.common import topology as t
from tests.support.broker import TestBroker
from tests.support.event_log import end_of, logged
from tests.support.factories import order_placed_event
from tests.support.polling import wait_until
from tests.support.quorum import provisioned_vhost

ORDERS_LOG = t.event_log(t.ORDERS_EXCHANGE)


def publish_as_orders(broker: TestBroker, routing_key: str, body: bytes, message_id: str) -> None:
    """As the orders relay does: its own login, confirmed, mandatory."""
    with broker.channel(t.user_name(broker.vhost, t.Service.ORDERS)) as ch:
        ch.confirm_delivery()
        props = pika.BasicProperties(
            message_id=message_id,
            type=routing_key,
            content_type="application/json",
            delivery_mode=2,
            headers={"correlation_id": f"c-{message_id}"},
        )
        ch.basic_publish(t.ORDERS_EXCHANGE, routing_key, body, props, mandatory=True)


def test_the_broker_fills_the_log_with_every_event_published_to_the_exchange(
    broker: TestBroker,
) -> None:
    start = end_of(broker, ORDERS_LOG)
    events = [order_placed_event() for _ in range(3)]
    for event in events:
        publish_as_orders(broker, event.type, event.to_json_bytes(), event.id)
    publish_as_orders(broker, "order.nobody_listens", b"lost?", "stray-1")

    found = logged(broker, ORDERS_LOG, since=start)
    assert [(d.exchange, d.routing_key, d.body) for d in found] == [
        (t.ORDERS_EXCHANGE, e.type, e.to_json_bytes()) for e in events
    ]
    first = found[0].properties
    assert (first.message_id, first.type, first.content_type, first.delivery_mode) == (
        events[0].id,
        t.ORDER_PLACED,
        "application/json",
        2,
    )
    assert first.headers["correlation_id"] == f"c-{events[0].id}"
    # A key that is no event type is in no log: the alternate exchange still keeps it
    assert [b for _, b in broker.drain(t.ORDERS_UNROUTABLE_QUEUE)] == [b"lost?"]
    assert broker.ready(t.INVENTORY_EVENTS_QUEUE) == 3  # and the subscribers got theirs


def test_rabbitmq_gives_each_log_its_retention_and_nothing_else(broker: TestBroker) -> None:
    def found() -> dict[str, Any] | None:
        with broker.management() as api:
            return api.queue(broker.vhost, ORDERS_LOG)

    queue = wait_until(lambda: (q := found()) and q.get("policy") and q, timeout=20)
    assert (queue["type"], queue["durable"], queue["auto_delete"]) == ("stream", True, False)
    assert queue["policy"] == f"event-log.{ORDERS_LOG}"
    assert queue["effective_policy_definition"] == {
        "max-age": "30D",
        "max-length-bytes": 5_000_000_000,
    }


def test_a_read_ends_at_its_marker_whatever_comes_after(broker: TestBroker) -> None:
    start = end_of(broker, ORDERS_LOG)
    before = order_placed_event()
    publish_as_orders(broker, before.type, before.to_json_bytes(), before.id)
    with closing(pika.BlockingConnection(broker.params())) as connection:
        publisher = connection.channel()
        publisher.confirm_delivery()
        log = AmqpEventLog(connection, publisher)
        end = log.mark_end(ORDERS_LOG)
        after = order_placed_event()
        publish_as_orders(broker, after.type, after.to_json_bytes(), after.id)
        read = []
        for delivery in log.read(ORDERS_LOG, start):
            if delivery.offset >= end:
                break
            read.append(delivery.properties.message_id)
        assert read == [before.id]
        assert (delivery.is_marker, delivery.offset) == (True, end)  # the marker ends it
    assert [d.properties.message_id for d in logged(broker, ORDERS_LOG, since=start)] == [
        before.id,
        after.id,
    ]  # every reader skips the markers


@pytest.fixture
def spare(test_broker: TestBroker) -> Iterator[TestBroker]:
    """A vhost of its own, to break."""
    with provisioned_vhost(test_broker, test_broker.settings.queue_type, "test-evlog") as vhost:
        yield vhost


def check(broker: TestBroker) -> tuple[int, list[str]]:
    lines: list[str] = []
    return provision("check", broker.vhost, out=lines.append), lines


def test_check_reports_drift_in_a_log_and_apply_repairs_it(spare: TestBroker) -> None:
    with spare.management() as api:
        policy = api.path("policies", spare.vhost, f"event-log.{ORDERS_LOG}")
        api.put(policy, {"pattern": "^orders\\.log$", "definition": {"max-age": "1D"}})
    with spare.channel() as ch:
        ch.queue_unbind(ORDERS_LOG, t.ORDERS_EXCHANGE, t.ORDER_EXPIRED)
        ch.queue_unbind(ORDERS_LOG, t.REPLAY_MARKER_EXCHANGE, ORDERS_LOG)
    code, lines = check(spare)
    assert code == 1
    assert sorted(": ".join(line.split(": ")[:2]) for line in lines[:-1]) == [
        "drift: bind orders -> orders.log",
        "drift: bind replay.markers -> orders.log",
        "drift: put policy event-log.orders.log",
    ]
    assert provision("apply", spare.vhost, out=lambda _: None) == 0
    assert check(spare) == (0, [f"vhost {spare.vhost}: in sync"])


def test_a_log_that_is_not_a_stream_is_reported_for_a_person(spare: TestBroker) -> None:
    with spare.channel() as ch:
        ch.queue_delete(ORDERS_LOG)
        ch.queue_declare(ORDERS_LOG, durable=True, arguments={"x-queue-type": "classic"})
    code, lines = check(spare)
    assert code == 1
    drift = f"drift: event log {ORDERS_LOG} is a classic queue, not a stream: "
    assert any(line.startswith(drift) for line in lines), lines
    lines = []
    assert provision("apply", spare.vhost, out=lines.append) == 2  # the rest is applied
    assert f"needs you: event log {ORDERS_LOG} is a classic queue, not a stream: " in "\n".join(
        lines
    )
