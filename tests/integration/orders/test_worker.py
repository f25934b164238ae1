"""The orders worker as a real process: inventory's answers, through the broker, move orders."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import Database
from services.common.topology import (
    INVENTORY_EXCHANGE,
    ORDER_CONFIRMED,
    ORDER_PLACED,
    ORDER_REJECTED,
    ORDERS_EVENTS_QUEUE,
    STOCK_RESERVED,
    Queue,
    Service,
    task_queue,
)
from services.orders.decide import Outcome
from services.orders.read import get_order
from services.orders.status import OrderStatus
from tests.support.broker import TestBroker, x_death_reason
from tests.support.orders import (
    WORKER_READY,
    events_of,
    handled,
    orders_worker,
    place,
    stock_rejected,
    stock_reserved,
)
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, running


@pytest.fixture
def worker(orders_db_url: str, broker: TestBroker, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "ORDERS_DATABASE_URL": orders_db_url,
        "ORDERS_RELAY_WAKE_PORT": str(free_port(socket.SOCK_DGRAM)),
    }
    with running(orders_worker(tmp_path, env)) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        yield proc


def status_of(db: Database, order_id: str, wanted: OrderStatus) -> OrderStatus | None:
    status = get_order(order_id, db).status
    return status if status is wanted else None


def test_stock_reserved_confirms_once_even_when_delivered_twice(
    db: Database, broker: TestBroker, worker: ServiceProcess
) -> None:
    order = place(db)
    event = stock_reserved(order)

    broker.publish_event(event, exchange=INVENTORY_EXCHANGE)
    wait_until(
        lambda: status_of(db, order.id, OrderStatus.CONFIRMED), timeout=60, message="CONFIRMED"
    )
    worker.wait_for_log(handled(event, Outcome.CONFIRMED))
    before = get_order(order.id, db)

    broker.publish_event(event, exchange=INVENTORY_EXCHANGE)
    worker.wait_for_log(handled(event, Outcome.DUPLICATE), timeout=60)

    assert get_order(order.id, db) == before
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]
    broker.wait_empty(ORDERS_EVENTS_QUEUE, task_queue(Service.ORDERS))  # both copies acked


def test_stock_rejected_rejects_and_a_late_reservation_is_stale(
    db: Database, broker: TestBroker, worker: ServiceProcess
) -> None:
    order = place(db)
    broker.publish_event(stock_rejected(order), exchange=INVENTORY_EXCHANGE)
    wait_until(
        lambda: status_of(db, order.id, OrderStatus.REJECTED), timeout=60, message="REJECTED"
    )

    late = stock_reserved(order)
    broker.publish_event(late, exchange=INVENTORY_EXCHANGE)
    worker.wait_for_log(handled(late, Outcome.STALE), timeout=60)

    view = get_order(order.id, db)
    assert view.status is OrderStatus.REJECTED
    assert [e.what for e in view.timeline if e.event_id == late.id] == [
        "stale stock.reserved ignored: the order is already REJECTED"
    ]
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_REJECTED]


def test_an_invalid_stock_event_is_dead_lettered_with_its_reason(
    broker: TestBroker, worker: ServiceProcess
) -> None:
    broker.publish_raw(
        b'{"type": "stock.reserved", "data": {}}',
        exchange=INVENTORY_EXCHANGE,
        routing_key=STOCK_RESERVED,
        properties=None,
    )
    dlq = Queue(ORDERS_EVENTS_QUEUE, owner=None).dead_letter_queue
    wait_until(lambda: broker.ready(dlq) == 1, timeout=60, message=f"a message in {dlq}")
    [(props, _)] = broker.drain(dlq)
    assert x_death_reason(props) == "rejected"
    worker.wait_for_log(r"rejected message .* \(dead-lettered\)")


def test_two_workers_each_getting_a_copy_confirm_each_order_once(
    db: Database, orders_db_url: str, broker: TestBroker, tmp_path: Path
) -> None:
    env = {
        "ORDERS_DATABASE_URL": orders_db_url,
        "ORDERS_RELAY_WAKE_PORT": str(free_port(socket.SOCK_DGRAM)),
        # one unacked event per worker: the copies spread over both workers
        "ORDERS_WORKER_CONCURRENCY": "1",
        "ORDERS_WORKER_PREFETCH_MULTIPLIER": "1",
    }
    workers = (orders_worker(tmp_path, env, "worker-a"), orders_worker(tmp_path, env, "worker-b"))
    orders = [place(db) for _ in range(10)]
    with running(*workers):
        for proc in workers:
            proc.wait_for_log(WORKER_READY, timeout=90)
        events = [stock_reserved(order) for order in orders]
        for event in events:
            broker.publish_event(event, exchange=INVENTORY_EXCHANGE)
            broker.publish_event(event, exchange=INVENTORY_EXCHANGE)

        def outcomes() -> list[Outcome] | None:
            logs = workers[0].log() + workers[1].log()
            found = [
                o
                for e in events
                for o in (Outcome.CONFIRMED, Outcome.DUPLICATE)
                for _ in re.finditer(handled(e, o), logs)
            ]
            return found if len(found) == 2 * len(events) else None

        found = wait_until(outcomes, timeout=90, message="every copy handled")
    assert found.count(Outcome.CONFIRMED) == len(orders)
    assert found.count(Outcome.DUPLICATE) == len(orders)
    for order in orders:
        assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]
