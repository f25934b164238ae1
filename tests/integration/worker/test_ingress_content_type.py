"""The ingress reads the content type as a media type with parameters (tested through the real
inventory worker): `application/json; charset=utf-8` is the same JSON event as a bare
`application/json`; another charset, or anything but JSON, is dead-lettered with its reason."""

from __future__ import annotations

from collections.abc import Iterator

import pika
import pytest

from services.common.topology import INVENTORY_EVENTS_QUEUE, ORDER_PLACED, ORDERS_EXCHANGE
from tests.support.broker import TestBroker, x_death_reason
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    WORKER_READY,
    handled,
    inventory_worker,
    make_inventory_db,
)
from tests.support.polling import wait_until
from tests.support.processes import ServiceProcess, running

DLQ = f"{INVENTORY_EVENTS_QUEUE}.dlq"


@pytest.fixture(scope="module")
def worker(
    test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    tmp = tmp_path_factory.mktemp("content-type")
    url = f"sqlite:///{tmp}/inventory.db"
    make_inventory_db(url, {"MUG-BLUE": 1000}).dispose()
    with running(inventory_worker(tmp, {"INVENTORY_DATABASE_URL": url})) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        yield proc


def _publish(broker: TestBroker, body: bytes, content_type: str, message_id: str) -> None:
    props = pika.BasicProperties(
        content_type=content_type, delivery_mode=2, message_id=message_id, type=ORDER_PLACED
    )
    broker.publish_raw(body, exchange=ORDERS_EXCHANGE, routing_key=ORDER_PLACED, properties=props)


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'],
)
def test_json_with_a_utf8_charset_is_handled(
    content_type: str, broker: TestBroker, worker: ServiceProcess
) -> None:
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    _publish(broker, event.to_json_bytes(), content_type, event.id)
    worker.wait_for_log(handled(event, "reserved MUG-BLUE x1"))
    assert broker.ready(DLQ) == 0


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("application/json; charset=iso-8859-1", "charset 'iso-8859-1' is not utf-8"),
        ("text/plain; charset=utf-8", "is not application/json"),
    ],
)
def test_another_charset_or_type_is_dead_lettered_with_its_reason(
    content_type: str, reason: str, broker: TestBroker, worker: ServiceProcess
) -> None:
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    _publish(broker, event.to_json_bytes(), content_type, event.id)
    worker.wait_for_log(
        rf"rejected message {event.id} from {INVENTORY_EVENTS_QUEUE} \(dead-lettered\): "
        rf"content type .*{reason}"
    )
    wait_until(lambda: broker.ready(DLQ) == 1, timeout=30, message="one dead letter")
    [(props, body)] = broker.drain(DLQ)
    assert body == event.to_json_bytes()
    assert props.content_type == content_type
    assert x_death_reason(props) == "rejected"
    assert f"for order {event.data.order_id}" not in worker.log()  # never handled
