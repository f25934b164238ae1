"""The shipping worker as a real process, fed through the real `orders` exchange: every
`order.confirmed` ships its order once, and `shipment.dispatched` waits in the outbox for the
shipping relay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.common.db import Database
from services.common.topology import (
    ORDER_CONFIRMED,
    SHIPMENT_DISPATCHED,
    SHIPPING_EVENTS_QUEUE,
    Service,
    task_queue,
)
from tests.support.broker import TestBroker
from tests.support.factories import order_confirmed_event, order_placed
from tests.support.processes import ServiceProcess, running
from tests.support.shipping import (
    WORKER_READY,
    dispatched_events,
    inbox_count,
    make_shipping_db,
    shipments_of,
    shipping_worker,
)

TASKS = task_queue(Service.SHIPPING)


@pytest.fixture(scope="module")
def shipping(
    test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, Database]]:
    tmp = tmp_path_factory.mktemp("shipping")
    url = f"sqlite:///{tmp}/shipping.db"
    db = make_shipping_db(url)
    with running(shipping_worker(tmp, {"SHIPPING_DATABASE_URL": url})) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        yield proc, db
    db.dispose()


def test_a_confirmed_order_is_shipped_once_even_when_published_twice(
    broker: TestBroker, shipping: tuple[ServiceProcess, Database]
) -> None:
    worker, db = shipping
    event = order_confirmed_event()
    with broker.tap(TASKS, TASKS) as private_queue:
        broker.publish_event(event)
        broker.publish_event(event)
        worker.wait_for_log(rf"{ORDER_CONFIRMED} {event.id} .*dispatched with ")
        worker.wait_for_log(rf"{ORDER_CONFIRMED} {event.id} .*duplicate event, nothing changed")
        broker.wait_empty(SHIPPING_EVENTS_QUEUE)
        assert private_queue.count() == 0  # one hop per event
    [shipment] = shipments_of(db, event.data.order_id)
    assert shipment.customer_email == event.data.customer_email
    assert dispatched_events(db, event.data.order_id) == [SHIPMENT_DISPATCHED]
    assert inbox_count(db, event.id) == 1
    assert broker.ready(f"{SHIPPING_EVENTS_QUEUE}.dlq") == 0


def test_a_second_confirmation_of_a_shipped_order_ships_nothing(
    broker: TestBroker, shipping: tuple[ServiceProcess, Database]
) -> None:
    worker, db = shipping
    placed = order_placed()
    first, second = order_confirmed_event(placed), order_confirmed_event(placed)
    broker.publish_event(first)
    worker.wait_for_log(rf"{first.id} .*dispatched with ")
    broker.publish_event(second)
    worker.wait_for_log(rf"{second.id} .*already shipped by another event, nothing changed")
    assert len(shipments_of(db, placed.order_id)) == 1
    assert dispatched_events(db, placed.order_id) == [SHIPMENT_DISPATCHED]
