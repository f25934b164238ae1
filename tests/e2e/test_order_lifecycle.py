"""The choreographed order lifecycle, every process real (the Procfile's commands), no service
calling another: orders -> inventory -> orders, through RabbitMQ only."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.common.db import Database
from services.common.topology import (
    EXPRESS_PRIORITY,
    ORDER_CONFIRMED,
    ORDER_PLACED,
    ORDER_UPDATED,
    SHIPMENT_DISPATCHED,
    STOCK_RESERVED,
    WORKER_SERVICES,
    Service,
    task_queue,
)
from services.email.sink.mailbox import Mailbox, StoredMail
from services.inventory.stock import set_stock, stock_levels
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.system import System, running_system

TERMINAL = {"CONFIRMED", "REJECTED", "EXPIRED"}


@pytest.fixture
def system(broker: TestBroker, tmp_path: Path) -> Iterator[System]:
    with running_system(tmp_path) as running:
        yield running


def _place(system: System, lines: list[tuple[str, int]], email: str = "ada@example.com") -> str:
    body = {"customer_email": email, "lines": [{"sku": s, "quantity": q} for s, q in lines]}
    resp = httpx.post(f"{system.api_url}/orders", json=body, timeout=10)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["id"])


def _settled(system: System, order_id: str, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        order: dict[str, Any] = httpx.get(f"{system.api_url}/orders/{order_id}", timeout=10).json()
        return order if order["status"] in TERMINAL else None

    return wait_until(probe, timeout=timeout, message=f"order {order_id} settled")


def _mails_to(system: System, recipient: str, count: int) -> list[StoredMail]:
    def probe() -> list[StoredMail] | None:
        mails = [m for m in Mailbox(system.mail_dir).mails() if m.header("To") == recipient]
        return mails if len(mails) >= count else None

    return wait_until(probe, timeout=60, message=f"{count} mails to {recipient}")


def _shipment_step(system: System, order_id: str) -> str:
    def probe() -> str | None:
        order: dict[str, Any] = httpx.get(f"{system.api_url}/orders/{order_id}", timeout=10).json()
        found = [s["what"] for s in order["timeline"] if s["what"].startswith("shipment")]
        return found[0] if len(found) == 1 else None

    return wait_until(probe, timeout=60, message=f"order {order_id}'s shipment on its timeline")


def _template(mail: StoredMail) -> str:
    return mail.header("Message-ID").strip("<>").split("@")[0].rsplit(".", 1)[-1]


def _stock(system: System) -> dict[str, tuple[int, int]]:
    db = Database(system.db_url("inventory"))
    try:
        return {s.sku: (s.on_hand, s.reserved) for s in stock_levels(db)}
    finally:
        db.dispose()


def test_in_stock_order_is_confirmed_reserved_and_shipped_once(system: System) -> None:
    before = _stock(system)["MUG-BLUE"]
    order_id = _place(system, [("MUG-BLUE", 2)], "grace@example.com")
    order = _settled(system, order_id)
    assert order["status"] == "CONFIRMED"
    steps = [step["what"] for step in order["timeline"]]
    assert steps[0] == "order accepted"
    assert "order confirmed" in steps
    assert any(step.startswith("stock reserved: MUG-BLUE x2") for step in steps)
    on_hand, reserved = _stock(system)["MUG-BLUE"]
    assert (on_hand, reserved) == (before[0], before[1] + 2)
    mails = _mails_to(system, "grace@example.com", 3)
    templates = sorted(_template(m) for m in mails)
    assert templates == ["order_confirmed", "order_received", "order_shipped"]
    assert all(order_id in m.header("Subject") for m in mails)
    # shipping shipped it, and orders put the shipment on the order's timeline
    [shipped] = [m for m in mails if _template(m) == "order_shipped"]
    shipment = _shipment_step(system, order_id)
    assert shipment.startswith("shipment dispatched: Deutsche Post, tracking number DPO")
    assert shipment.rsplit(" ", 1)[-1] in shipped.part("plain")


def test_with_nothing_failing_every_event_is_consumed_once(
    system: System, broker: TestBroker
) -> None:
    """One hop per event: while orders flow and nothing fails, no event becomes a task on any
    service's private queue (`orders.tasks` gets beat's expiry ticks, nothing else)."""
    with ExitStack() as stack:
        taps = {
            service: stack.enter_context(broker.tap(task_queue(service), task_queue(service)))
            for service in WORKER_SERVICES
        }
        orders = [
            _place(system, [("MUG-BLUE", 1)], "one@example.com"),
            _place(system, [("TEE-M", 2)], "two@example.com"),
            _place(system, [("POSTER-A2", 1)], "three@example.com"),
        ]
        assert [_settled(system, o)["status"] for o in orders] == ["CONFIRMED"] * 2 + ["REJECTED"]
        for recipient in ("one@example.com", "two@example.com", "three@example.com"):
            _mails_to(system, recipient, 2)
        published = {service: tap.take() for service, tap in taps.items()}
    tasks = {
        service: [props.headers["task"] for props, _ in messages]
        for service, messages in published.items()
    }
    assert tasks[Service.INVENTORY] == []
    assert tasks[Service.EMAIL] == []
    assert set(tasks[Service.ORDERS]) <= {"orders.expire_pending_orders"}


def test_out_of_stock_order_is_rejected_and_stock_unchanged(system: System) -> None:
    before = _stock(system)
    order_id = _place(system, [("MUG-BLUE", 1), ("POSTER-A2", 1)], "linus@example.com")
    order = _settled(system, order_id)
    assert order["status"] == "REJECTED"
    assert _stock(system) == before
    mails = _mails_to(system, "linus@example.com", 2)
    assert sorted(_template(m) for m in mails) == ["order_received", "order_rejected"]
    assert not [s for s in order["timeline"] if s["what"].startswith("shipment")]
    [rejected] = [m for m in mails if _template(m) == "order_rejected"]
    assert "POSTER-A2" in rejected.part("plain")
    assert "MUG-BLUE" not in rejected.part("plain")


def test_concurrent_orders_for_the_last_unit_confirm_exactly_one(system: System) -> None:
    db = Database(system.db_url("inventory"))
    try:
        set_stock(db, {"BOTTLE-STEEL": 1})
    finally:
        db.dispose()
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(
            pool.map(lambda n: _place(system, [("BOTTLE-STEEL", 1)], f"c{n}@example.com"), range(6))
        )
    statuses = sorted(_settled(system, order_id)["status"] for order_id in ids)
    assert statuses == ["CONFIRMED"] + ["REJECTED"] * 5
    assert _stock(system)["BOTTLE-STEEL"] == (1, 1)


def test_an_order_expires_while_inventory_is_down_and_its_late_reservation_is_released(
    broker: TestBroker, tmp_path: Path
) -> None:
    extra = {"ORDERS_PENDING_TIMEOUT_SECONDS": "2"}
    with running_system(tmp_path, extra_env=extra) as system:
        system.procs["inventory-worker"].terminate()
        before = _stock(system)["MUG-BLUE"]
        order_id = _place(system, [("MUG-BLUE", 3)])
        order = _settled(system, order_id)
        assert order["status"] == "EXPIRED"

        system.start("inventory-worker")  # comes back: order.placed, then order.expired
        system.wait_ready("inventory-worker")

        def released() -> bool:
            timeline = httpx.get(f"{system.api_url}/orders/{order_id}", timeout=10).json()
            return any("released" in step["what"] for step in timeline["timeline"])

        wait_until(released, timeout=60, message="stock.released recorded in the timeline")
        assert _stock(system)["MUG-BLUE"] == before
        assert httpx.get(f"{system.api_url}/orders/{order_id}").json()["status"] == "EXPIRED"


def _priorities(system: System, service: str, order_id: str) -> dict[str, set[int | None]]:
    """The AMQP priority of each of `order_id`'s events in `service`'s outbox, by event type."""
    db = Database(system.db_url(service))
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT event_type, priority FROM outbox WHERE aggregate_id = :id"),
                {"id": order_id},
            ).all()
    finally:
        db.dispose()
    found: dict[str, set[int | None]] = {}
    for event_type, priority in rows:
        found.setdefault(event_type, set()).add(priority)
    return found


def test_an_express_order_goes_through_with_every_event_in_the_express_lane(
    system: System,
) -> None:
    """docs/priorities.md: `express` sets order.placed's priority, and each service publishes
    what follows from it (stock.reserved, order.confirmed, shipment.dispatched, order.updated)
    with the priority of the event it handled."""
    body = {
        "customer_email": "hedy@example.com",
        "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
        "express": True,
    }
    resp = httpx.post(f"{system.api_url}/orders", json=body, timeout=10)
    assert resp.status_code == 202, resp.text
    order_id = str(resp.json()["id"])
    assert _settled(system, order_id)["status"] == "CONFIRMED"
    _shipment_step(system, order_id)
    mails = _mails_to(system, "hedy@example.com", 3)
    assert sorted(_template(m) for m in mails) == [
        "order_confirmed",
        "order_received",
        "order_shipped",
    ]
    express = {EXPRESS_PRIORITY}
    assert _priorities(system, "inventory", order_id) == {STOCK_RESERVED: express}
    assert _priorities(system, "shipping", order_id) == {SHIPMENT_DISPATCHED: express}

    def orders_events() -> dict[str, set[int | None]] | None:
        found = _priorities(system, "orders", order_id)
        return found if ORDER_UPDATED in found else None

    assert wait_until(orders_events, timeout=60, message="order.updated for the shipment") == {
        ORDER_PLACED: express,
        ORDER_CONFIRMED: express,
        ORDER_UPDATED: express,
    }
