"""The checks services contribute to the scenario (services/<service>/scenario_checks.py): the
scenario finds shipping's through the registry and reads it in shipping's own database (SQLite
here, the rows written by the real dispatch): each confirmed order shipped once, no rejected
one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenario.checks import service_checks
from scenario.contributed import ServiceChecks, contributed
from scenario.plan import PlannedOrder
from services.common.registry import Service
from services.shipping import scenario_checks
from services.shipping.dispatch import dispatch_shipment
from services.shipping.models import Base
from services.shipping.settings import Settings
from tests.support.factories import order_confirmed_event, order_placed


@pytest.fixture
def shipping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceChecks]:
    monkeypatch.setenv("SHIPPING_BROKER_PASSWORD", "unused-here")
    monkeypatch.setenv("SHIPPING_DATABASE_URL", f"sqlite:///{tmp_path}/shipping.db")
    [found] = contributed()
    Base.metadata.create_all(found.db.engine)
    yield found
    found.db.dispose()


def planned(label: str, status: str, shipped: bool, shipping: ServiceChecks) -> PlannedOrder:
    order = PlannedOrder(label, [("MUG-BLUE", 1)], status)
    placed = order_placed(email=order.email)
    order.order_id = placed.order_id
    if shipped:
        dispatch_shipment(order_confirmed_event(placed), shipping.db, Settings())
    return order


def test_the_scenario_finds_shippings_checks_in_its_folder(
    shipping: ServiceChecks, tmp_path: Path
) -> None:
    assert shipping.service is Service.SHIPPING
    assert shipping.checks == scenario_checks.CHECKS
    assert shipping.db.engine.url.database == f"{tmp_path}/shipping.db"


def test_each_order_has_the_shipments_its_status_wants(shipping: ServiceChecks) -> None:
    orders = [
        planned("confirmed, shipped", "CONFIRMED", True, shipping),
        planned("confirmed, not shipped", "CONFIRMED", False, shipping),
        planned("rejected, not shipped", "REJECTED", False, shipping),
        planned("rejected, shipped", "REJECTED", True, shipping),
    ]
    checks = service_checks([shipping], orders, deadline=time.monotonic())
    assert [(c.name, c.expected, c.actual, c.ok) for c in checks] == [
        ("shipped: confirmed, shipped", "1 shipment(s)", "1 shipment(s)", True),
        ("shipped: confirmed, not shipped", "1 shipment(s)", "0 shipment(s)", False),
        ("shipped: rejected, not shipped", "0 shipment(s)", "0 shipment(s)", True),
        ("shipped: rejected, shipped", "0 shipment(s)", "1 shipment(s)", False),
    ]
