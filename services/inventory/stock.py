"""Stock levels: seeding the demo stock, and reading what is on the shelf."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from services.common.catalogue import DEMO_CATALOGUE, CatalogueItem
from services.common.db import Database
from services.inventory.models import Stock


@dataclass(frozen=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int
    available: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_stock(db: Database, items: tuple[CatalogueItem, ...] = DEMO_CATALOGUE) -> int:
    """Give every catalogue SKU that has no stock row its initial stock. Existing rows are left
    alone, so re-running never undoes reservations. Returns how many rows were added."""
    added = 0
    with db.transaction() as session:
        known = set(session.scalars(select(Stock.sku)))
        for item in items:
            if item.sku not in known:
                session.add(Stock(sku=item.sku, on_hand=item.initial_stock, reserved=0))
                added += 1
    return added


def set_stock(db: Database, levels: dict[str, int]) -> None:
    """Put exactly `on_hand` of each SKU on the shelf, nothing reserved (tests, demos)."""
    with db.transaction() as session:
        for sku, on_hand in levels.items():
            session.merge(Stock(sku=sku, on_hand=on_hand, reserved=0))


def stock_levels(db: Database) -> list[StockLevel]:
    with db.transaction() as session:
        rows = session.scalars(select(Stock).order_by(Stock.sku))
        return [StockLevel(r.sku, r.on_hand, r.reserved, r.available) for r in rows]
