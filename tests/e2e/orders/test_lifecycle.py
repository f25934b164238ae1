"""The orders side of the saga with every orders process real: API, relay, worker, beat.

Inventory's answers are published by the test (as the admin) on the `inventory` exchange; what
orders publishes in return is observed on a temporary queue bound to `orders`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.db import Database
from services.common.events import OrderConfirmed, OrderExpired, OrderRejected
from services.common.topology import (
    INVENTORY_EXCHANGE,
    ORDER_CONFIRMED,
    ORDER_EXPIRED,
    ORDER_PLACED,
    ORDER_REJECTED,
    Queue,
    Service,
    task_queue,
)
from services.orders.decide import Outcome
from services.orders.read import OrderView
from tests.e2e.orders.conftest import RelayFactory
from tests.support.broker import TestBroker
from tests.support.orders import (
    WORKER_READY,
    EventTap,
    events_of,
    handled,
    order_body,
    orders_worker,
    stock_rejected,
    stock_reserved,
    tap_orders_exchange,
)
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess, running


@pytest.fixture
def tap(broker: TestBroker) -> Iterator[EventTap]:
    with tap_orders_exchange(broker) as t:
        yield t


@pytest.fixture
def relay(make_relay: RelayFactory) -> ServiceProcess:
    proc = make_relay().start()
    proc.wait_for_log(r"relay running", timeout=60)
    return proc


@pytest.fixture
def worker(orders_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    with running(orders_worker(tmp_path, orders_env)) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        yield proc


def place(api: httpx.Client, tap: EventTap) -> OrderView:
    resp = api.post("/orders", json=order_body())
    assert resp.status_code == 202, resp.text
    order = OrderView.model_validate(resp.json())
    tap.wait_for_event(ORDER_PLACED, order.id)
    return order


def published(tap: EventTap, event_type: str, order_id: str) -> int:
    return sum(1 for e in tap.envelopes() if e.type == event_type and e.data.order_id == order_id)


def timeline(api: httpx.Client, order_id: str) -> list[str]:
    return [step["what"] for step in api.get(f"/orders/{order_id}").json()["timeline"]]


def test_reserved_stock_confirms_publishes_order_confirmed_and_duplicates_change_nothing(
    api: httpx.Client,
    broker: TestBroker,
    tap: EventTap,
    relay: ServiceProcess,
    worker: ServiceProcess,
    orders_db_url: str,
) -> None:
    order = place(api, tap)
    answer = stock_reserved(order)
    broker.publish_event(answer, exchange=INVENTORY_EXCHANGE)

    confirmed = tap.wait_for_event(ORDER_CONFIRMED, order.id)
    assert isinstance(confirmed.data, OrderConfirmed)
    assert str(confirmed.data.customer_email) == order.customer_email
    assert [(ln.sku, ln.quantity) for ln in confirmed.data.lines] == [("MUG-BLUE", 2), ("TEE-M", 1)]
    assert (confirmed.data.total, confirmed.data.currency) == (order.total, "EUR")
    assert confirmed.correlationid == answer.correlationid

    broker.publish_event(answer, exchange=INVENTORY_EXCHANGE)
    broker.publish_event(answer, exchange=INVENTORY_EXCHANGE)
    duplicate = handled(answer, Outcome.DUPLICATE)
    worker.wait_for_log(f"(?s){duplicate}.*{duplicate}")  # both copies handled

    view = api.get(f"/orders/{order.id}").json()
    assert view["status"] == "CONFIRMED"

    def steps_when_published() -> list[str] | None:
        steps = timeline(api, order.id)
        return steps if f"{ORDER_CONFIRMED} published" in steps else None

    steps = wait_until(steps_when_published, timeout=30, message="order.confirmed published")
    assert steps[0] == "order accepted"
    assert "stock reserved: MUG-BLUE x2, TEE-M x1" in steps
    assert "order confirmed" in steps
    assert [s["at"] for s in view["timeline"]] == sorted(s["at"] for s in view["timeline"])
    db = Database(orders_db_url)
    try:
        assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]
    finally:
        db.dispose()
    assert published(tap, ORDER_CONFIRMED, order.id) == 1


def test_rejected_stock_rejects_and_publishes_the_short_skus(
    api: httpx.Client,
    broker: TestBroker,
    tap: EventTap,
    relay: ServiceProcess,
    worker: ServiceProcess,
) -> None:
    order = place(api, tap)
    broker.publish_event(stock_rejected(order, "TEE-M"), exchange=INVENTORY_EXCHANGE)

    rejected = tap.wait_for_event(ORDER_REJECTED, order.id)
    assert isinstance(rejected.data, OrderRejected)
    assert rejected.data.short_skus == ("TEE-M",)
    assert str(rejected.data.customer_email) == order.customer_email
    view = api.get(f"/orders/{order.id}").json()
    assert view["status"] == "REJECTED"
    assert "stock rejected, out of stock: TEE-M (requested 1, available 0)" in timeline(
        api, order.id
    )


def test_an_unanswered_order_expires_and_a_late_reservation_is_ignored(
    api: httpx.Client,
    broker: TestBroker,
    tap: EventTap,
    relay: ServiceProcess,
    orders_env: dict[str, str],
    tmp_path: Path,
) -> None:
    quick = {
        **orders_env,
        "ORDERS_PENDING_TIMEOUT_SECONDS": "2",
        "ORDERS_EXPIRY_CHECK_SECONDS": "1",
    }
    beat = ServiceProcess("orders-beat", [PYTHON, "-m", "services.orders.beat"], tmp_path, quick)
    worker = orders_worker(tmp_path, quick)
    tasks = task_queue(Service.ORDERS)
    with running(beat):
        # No worker yet: ticks pile up on orders.tasks. When the worker comes they run (the
        # first one expires the order, the rest find nothing); none may be dead-lettered.
        beat.wait_for_log(r"(?s)(Sending due task expire-pending-orders.*){3}", timeout=60)
        assert broker.ready(tasks) >= 1
        order = place(api, tap)
        with running(worker):
            worker.wait_for_log(WORKER_READY, timeout=90)

            expired = tap.wait_for_event(ORDER_EXPIRED, order.id, timeout=90)
            assert isinstance(expired.data, OrderExpired)
            assert str(expired.data.customer_email) == order.customer_email
            assert api.get(f"/orders/{order.id}").json()["status"] == "EXPIRED"
            assert "order expired: no answer from inventory within 2 s" in timeline(api, order.id)

            late = stock_reserved(order)
            broker.publish_event(late, exchange=INVENTORY_EXCHANGE)
            worker.wait_for_log(handled(late, Outcome.STALE), timeout=60)

            view = api.get(f"/orders/{order.id}").json()
            assert view["status"] == "EXPIRED"
            assert [s["what"] for s in view["timeline"] if s["event_id"] == late.id] == [
                "stale stock.reserved ignored: the order is already EXPIRED"
            ]
            assert published(tap, ORDER_CONFIRMED, order.id) == 0
            assert published(tap, ORDER_EXPIRED, order.id) == 1
            assert broker.ready(Queue(tasks, owner=None).dead_letter_queue) == 0
