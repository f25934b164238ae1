"""`manage reset-stock` and `restock`: stock is only ever added to the shelf, so reservations
made before stay consistent with what their orders do after (an expiry gives back exactly what
its reservation took, and `reserved` never drops below zero)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.catalogue import DEMO_CATALOGUE
from services.common.db import Database
from services.common.events import Envelope, OrderExpired
from services.inventory import manage
from services.inventory.release import Released, release_stock
from services.inventory.reserve import reserve_stock
from services.inventory.stock import (
    StockLevel,
    reset_stock,
    restock,
    seed_stock,
    set_stock,
    stock_levels,
)
from tests.support.factories import order_placed_event
from tests.support.inventory import reservations_of

DEMO = {item.sku: item.initial_stock for item in DEMO_CATALOGUE}


@pytest.fixture
def demo_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path}/inventory.db")
    manage.create_schema(db)
    seed_stock(db)
    return db


def levels(db: Database) -> dict[str, StockLevel]:
    return {lvl.sku: lvl for lvl in stock_levels(db)}


def test_reset_makes_the_demo_stock_available_and_keeps_what_orders_hold(
    demo_db: Database,
) -> None:
    held = order_placed_event(lines=[("MUG-BLUE", 60, "8.50"), ("TEE-M", 50, "19.90")])
    reserve_stock(held, demo_db)
    reserve_stock(order_placed_event(lines=[("MUG-BLUE", 40, "8.50")]), demo_db)
    assert levels(demo_db)["MUG-BLUE"].available == 0

    assert reset_stock(demo_db) == len(DEMO_CATALOGUE)

    after = levels(demo_db)
    assert {sku: lvl.available for sku, lvl in after.items()} == DEMO
    assert (after["MUG-BLUE"].reserved, after["MUG-BLUE"].on_hand) == (100, 200)
    assert (after["TEE-M"].reserved, after["TEE-M"].on_hand) == (50, 100)
    assert reservations_of(demo_db, held.data.order_id) == {"MUG-BLUE": 60, "TEE-M": 50}
    # the README's first order fits again
    assert reserve_stock(order_placed_event(lines=[("MUG-BLUE", 2, "8.50")]), demo_db).lines


def test_an_order_that_expires_after_the_reset_gives_back_exactly_what_it_took(
    demo_db: Database,
) -> None:
    placed = order_placed_event(lines=[("TEE-M", 50, "19.90")])
    reserve_stock(placed, demo_db)
    reset_stock(demo_db)

    expired = Envelope.wrap(
        OrderExpired(order_id=placed.data.order_id, customer_email="ada@example.com")
    )
    assert release_stock(expired, demo_db) is Released.RELEASED

    tee = levels(demo_db)["TEE-M"]
    assert (tee.reserved, tee.on_hand, tee.available) == (0, 100, 100)
    # a second reset brings it back to the demo level, never below what is held
    reset_stock(demo_db)
    tee = levels(demo_db)["TEE-M"]
    assert (tee.reserved, tee.on_hand, tee.available) == (0, 50, 50)


def test_reset_adds_missing_skus_and_leaves_other_skus_alone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/inventory.db")
    manage.create_schema(db)
    set_stock(db, {"MUG-BLUE": 1, "NOT-IN-CATALOGUE": 7})
    reset_stock(db)
    after = levels(db)
    assert after["NOT-IN-CATALOGUE"] == StockLevel("NOT-IN-CATALOGUE", 7, 0, 7)
    assert {sku: after[sku].available for sku in DEMO} == DEMO


def test_restock_adds_to_the_shelf_and_refuses_what_it_cannot_do(demo_db: Database) -> None:
    reserve_stock(order_placed_event(lines=[("CAP-BLACK", 30, "14.00")]), demo_db)
    restock(demo_db, {"CAP-BLACK": 5, "STICKERS": 0})
    cap = levels(demo_db)["CAP-BLACK"]
    assert (cap.on_hand, cap.reserved, cap.available) == (35, 30, 5)
    with pytest.raises(LookupError, match="NO-SUCH-SKU"):
        restock(demo_db, {"CAP-BLACK": 1, "NO-SUCH-SKU": 1})
    with pytest.raises(ValueError, match="adds stock"):
        restock(demo_db, {"CAP-BLACK": -1})
    assert levels(demo_db)["CAP-BLACK"].on_hand == 35  # all or nothing


def test_manage_reset_stock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    monkeypatch.setenv("INVENTORY_DATABASE_URL", url)
    assert manage.main(["init"]) == 0
    reserve_stock(order_placed_event(lines=[("HOODIE-M", 20, "39.00")]), Database(url))
    capsys.readouterr()
    assert manage.main(["reset-stock"]) == 0
    assert capsys.readouterr().out == f"demo stock available again: {len(DEMO)} SKUs\n"
    assert levels(Database(url))["HOODIE-M"] == StockLevel("HOODIE-M", 40, 20, 20)
