"""dispatch_shipment against a real SQLite database: a confirmed order is shipped once, by the
carrier the rule picks, with a tracking number that depends on the order alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from services.common.db import Database
from services.common.events import OrderConfirmed
from services.common.topology import SHIPMENT_DISPATCHED
from services.shipping.carriers import EXPRESS, FREIGHT, POST, choose_carrier, tracking_number
from services.shipping.dispatch import Result, dispatch_shipment
from services.shipping.models import OutboxMessage
from services.shipping.settings import Settings
from tests.support.factories import order_confirmed_event, order_placed
from tests.support.shipping import dispatched_events, inbox_count, make_shipping_db, shipments_of


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = make_shipping_db(f"sqlite:///{tmp_path}/shipping.db")
    yield database
    database.dispose()


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SHIPPING_BROKER_PASSWORD", "unused-here")
    return Settings()


def test_a_confirmed_order_is_shipped_once_with_its_event(db: Database, settings: Settings) -> None:
    event = order_confirmed_event(order_placed(lines=[("MUG-BLUE", 2, "8.50")]))

    outcome = dispatch_shipment(event, db, settings)

    [shipment] = shipments_of(db, event.data.order_id)
    assert (shipment.carrier, shipment.event_id) == (POST.name, event.id)
    assert shipment.tracking_number == tracking_number(POST, event.data.order_id)
    assert outcome == f"dispatched with {POST.name}, tracking number {shipment.tracking_number}"
    assert dispatched_events(db, event.data.order_id) == [SHIPMENT_DISPATCHED]
    with db.transaction() as session:
        [row] = session.query(OutboxMessage).all()
        payload = json.loads(row.payload)
    assert payload["correlationid"] == event.correlationid
    assert payload["data"]["tracking_number"] == shipment.tracking_number
    assert payload["data"]["customer_email"] == event.data.customer_email


def test_the_same_event_twice_ships_nothing_more(db: Database, settings: Settings) -> None:
    event = order_confirmed_event()
    dispatch_shipment(event, db, settings)

    assert dispatch_shipment(event, db, settings) == Result.DUPLICATE.value
    assert len(shipments_of(db, event.data.order_id)) == 1
    assert dispatched_events(db, event.data.order_id) == [SHIPMENT_DISPATCHED]
    assert inbox_count(db, event.id) == 1


def test_another_event_for_a_shipped_order_ships_nothing_more(
    db: Database, settings: Settings
) -> None:
    placed = order_placed()
    dispatch_shipment(order_confirmed_event(placed), db, settings)

    again = order_confirmed_event(placed)  # a new event id for the same order
    assert dispatch_shipment(again, db, settings) == Result.ALREADY_SHIPPED.value
    assert dispatched_events(db, placed.order_id) == [SHIPMENT_DISPATCHED]


@pytest.mark.parametrize(
    ("lines", "carrier"),
    [
        ([("MUG-BLUE", 1, "8.50")], POST),
        ([("MUG-BLUE", 11, "1.00")], FREIGHT),  # more than 10 items
        ([("TEE-M", 1, "100.00")], EXPRESS),  # the total reaches the express threshold
        ([("TEE-M", 20, "10.00")], EXPRESS),  # express wins over freight
    ],
)
def test_the_carrier_rule(lines: list[tuple[str, int, str]], carrier: object) -> None:
    order = OrderConfirmed(**order_placed(lines=lines).model_dump())
    assert choose_carrier(order, Decimal("100.00")) == carrier


def test_the_tracking_number_depends_on_the_order_alone() -> None:
    assert tracking_number(POST, "order-1") == tracking_number(POST, "order-1")
    assert tracking_number(POST, "order-1") != tracking_number(POST, "order-2")
    assert tracking_number(EXPRESS, "order-1").startswith(EXPRESS.prefix)
