"""Stock levels: seeding and restoring the demo stock, goods received, and reading the shelf.

`on_hand` is what is on the shelf, `reserved` what orders hold of it. Nothing here ever touches
`reserved` or the `reservations` rows: they are the orders' claims, and an `order.expired` that
comes later gives back exactly what its reservation took (services/inventory/release.py). So
stock is only ever *added* to the shelf, and every CHECK (`reserved <= on_hand`, both >= 0) keeps
holding whatever is in flight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update

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


def reset_stock(db: Database, items: tuple[CatalogueItem, ...] = DEMO_CATALOGUE) -> int:
    """Make each catalogue SKU's demo stock available again: `on_hand = reserved + demo stock`.

    What orders hold stays reserved, so a confirmed order keeps its goods and an order that
    expires later gives back what it took (`reserved` never drops below zero); a SKU that has no
    row yet gets one. The rows are locked in SKU order, as a reservation locks them, so a
    reservation running at the same moment comes entirely before or entirely after. SKUs outside
    the catalogue are left alone. Returns how many SKUs it set."""
    demo = {item.sku: item.initial_stock for item in items}
    with db.transaction() as session:
        rows = session.scalars(
            select(Stock).where(Stock.sku.in_(demo)).order_by(Stock.sku).with_for_update()
        )
        for row in rows:
            row.on_hand = row.reserved + demo.pop(row.sku)
        session.add_all(Stock(sku=sku, on_hand=qty, reserved=0) for sku, qty in demo.items())
    return len(items)


def restock(db: Database, quantities: Mapping[str, int]) -> None:
    """Goods received: `quantity` more of each SKU on the shelf (and so available)."""
    if any(qty < 0 for qty in quantities.values()):
        raise ValueError(f"restock adds stock; got {dict(quantities)}")
    with db.transaction() as session:
        for sku, qty in sorted(quantities.items()):
            done = session.execute(
                update(Stock).where(Stock.sku == sku).values(on_hand=Stock.on_hand + qty)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                raise LookupError(f"no stock row for {sku!r}: `manage seed-stock` first")


def set_stock(db: Database, levels: dict[str, int]) -> None:
    """Put exactly `on_hand` of each SKU on the shelf, nothing reserved (tests, demos)."""
    with db.transaction() as session:
        for sku, on_hand in levels.items():
            session.merge(Stock(sku=sku, on_hand=on_hand, reserved=0))


def stock_levels(db: Database) -> list[StockLevel]:
    with db.transaction() as session:
        rows = session.scalars(select(Stock).order_by(Stock.sku))
        return [StockLevel(r.sku, r.on_hand, r.reserved, r.available) for r in rows]
