"""An accepted order's event reaches the `orders` exchange through the real relay and broker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.common.db import Database
from services.common.outbox import OutboxRelay
from services.common.outbox.process import build_relay
from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    INVENTORY_EVENTS_QUEUE,
    ORDER_PLACED,
    ORDERS_UNROUTABLE_QUEUE,
)
from services.orders.bootstrap import Container
from services.orders.relay import TARGET
from services.orders.settings import Settings
from tests.support.broker import TestBroker
from tests.support.orders import order_body, outbox_rows, tap_orders_exchange
from tests.support.polling import wait_until


@pytest.fixture
def relay(orders_settings: Settings, test_broker: TestBroker) -> Iterator[OutboxRelay]:
    """The real relay (pika, confirms, the orders user) in a thread of this process."""
    db = Database(orders_settings.database_url)
    relay = build_relay(orders_settings, db, TARGET)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), name="relay", daemon=True)
    thread.start()
    yield relay
    stop.set()
    thread.join(timeout=30)
    db.dispose()
    assert not thread.is_alive()


def test_the_event_arrives_once_with_its_properties(
    client: TestClient, container: Container, broker: TestBroker, relay: OutboxRelay
) -> None:
    with tap_orders_exchange(broker) as tap:
        headers = {"Idempotency-Key": "once-only", "X-Correlation-ID": "corr-7"}
        order = client.post("/orders", json=order_body(), headers=headers).json()
        assert client.post("/orders", json=order_body(), headers=headers).status_code == 202
        tap.wait_for([order["id"]])
        # A later order, published after the first, proves no second copy of it was on its way.
        sentinel = client.post("/orders", json=order_body("sentinel@example.com")).json()
        received = tap.wait_for([sentinel["id"]])

        assert received == [order["id"], sentinel["id"]]
        props, event = tap.placed()[0]

    [row, _] = outbox_rows(container.db)
    assert row.published_at is not None
    assert row.attempts == 1
    assert props.message_id == row.event_id
    assert props.content_type == "application/json"
    assert props.delivery_mode == 2
    assert props.type == ORDER_PLACED
    assert props.correlation_id == "corr-7"
    assert props.headers == {"correlation_id": "corr-7"}
    assert event.order_id == order["id"]
    assert str(event.customer_email) == "ada@example.com"
    assert [(ln.sku, ln.quantity, str(ln.unit_price)) for ln in event.lines] == [
        ("MUG-BLUE", 2, "8.50"),
        ("TEE-M", 1, "19.90"),
    ]
    assert str(event.total) == "36.90"


def test_the_consumer_queues_get_it_and_the_timeline_shows_the_publish(
    client: TestClient, container: Container, broker: TestBroker, relay: OutboxRelay
) -> None:
    order = client.post("/orders", json=order_body()).json()
    wait_until(
        lambda: broker.ready(INVENTORY_EVENTS_QUEUE) >= 1 and broker.ready(EMAIL_EVENTS_QUEUE) >= 1,
        timeout=60,
        message="order.placed in both consumer queues",
    )

    def last_step() -> str | None:
        timeline = client.get(f"/orders/{order['id']}").json()["timeline"]
        what = str(timeline[-1]["what"])
        return what if what.endswith("published") else None

    # The row is marked just after the confirm, so possibly a moment after the delivery.
    assert wait_until(last_step, timeout=30, message="timeline") == f"{ORDER_PLACED} published"
    assert broker.ready(ORDERS_UNROUTABLE_QUEUE) == 0


def test_many_orders_arrive_in_commit_order(
    client: TestClient, broker: TestBroker, relay: OutboxRelay
) -> None:
    with tap_orders_exchange(broker) as tap:
        ids = [
            client.post("/orders", json=order_body(f"c{i}@example.com")).json()["id"]
            for i in range(30)
        ]
        assert tap.wait_for(ids) == ids
