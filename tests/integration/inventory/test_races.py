"""reserve_stock racing itself on a real database (SQLite and PostgreSQL), in threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from services.common.db import Database
from services.common.events import Envelope
from services.inventory.models import Base
from services.inventory.reserve import ReservationResult, Result, reserve_stock
from services.inventory.stock import set_stock, stock_levels
from tests.support.factories import order_placed_event
from tests.support.inventory import make_inventory_db, reserved
from tests.support.orders import race
from tests.support.pgdb import throwaway_database

ROUNDS = 5


def at_once(db: Database, a: Envelope[Any], b: Envelope[Any]) -> list[Result]:
    """Run reserve_stock for both events at the same moment; the results, sorted."""
    results = race(lambda: reserve_stock(a, db), lambda: reserve_stock(b, db))
    return sorted(cast(ReservationResult, r).result for r in results)


@pytest.fixture(scope="module")
def inventory_pg_url() -> Iterator[str]:
    with throwaway_database("inventory_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/inventory.db"
    else:
        url = request.getfixturevalue("inventory_pg_url")
        Base.metadata.drop_all(Database(url).engine)
    database = make_inventory_db(url, {"MUG-BLUE": 1000})
    yield database
    database.dispose()


def test_the_same_event_twice_at_once_reserves_once(db: Database) -> None:
    for _ in range(ROUNDS):
        event = order_placed_event(lines=[("MUG-BLUE", 3, "8.50")])
        assert at_once(db, event, event) == [Result.DUPLICATE, Result.RESERVED]
    assert reserved(db)["MUG-BLUE"] == 3 * ROUNDS


def test_two_events_for_one_order_at_once_reserve_once(db: Database) -> None:
    for n in range(ROUNDS):
        a = order_placed_event(order_id=f"order-{n}", lines=[("MUG-BLUE", 1, "8.50")])
        b = order_placed_event(order_id=f"order-{n}", lines=[("MUG-BLUE", 1, "8.50")])
        assert at_once(db, a, b) == [Result.ALREADY_DECIDED, Result.RESERVED]
    assert reserved(db)["MUG-BLUE"] == ROUNDS


def test_two_orders_for_the_last_unit_one_wins(db: Database) -> None:
    for _ in range(ROUNDS):
        set_stock(db, {"CAP-BLACK": 1})
        a, b = (order_placed_event(lines=[("CAP-BLACK", 1, "14.00")]) for _ in range(2))
        assert at_once(db, a, b) == [Result.REJECTED, Result.RESERVED]
        level = next(lvl for lvl in stock_levels(db) if lvl.sku == "CAP-BLACK")
        assert (level.reserved, level.available) == (1, 0)
