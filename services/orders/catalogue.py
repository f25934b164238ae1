"""The demo catalogue (documented in docs/orders.md) and seeding it."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from services.common.db import Database
from services.orders.models import Product

CATALOGUE_CURRENCY = "EUR"


class CatalogueItem(NamedTuple):
    sku: str
    name: str
    unit_price: Decimal


DEMO_CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("MUG-BLUE", "Mug, blue", Decimal("8.50")),
    CatalogueItem("MUG-RED", "Mug, red", Decimal("8.50")),
    CatalogueItem("TEE-S", "T-shirt, size S", Decimal("19.90")),
    CatalogueItem("TEE-M", "T-shirt, size M", Decimal("19.90")),
    CatalogueItem("TEE-L", "T-shirt, size L", Decimal("19.90")),
    CatalogueItem("HOODIE-M", "Hoodie, size M", Decimal("39.00")),
    CatalogueItem("CAP-BLACK", "Cap, black", Decimal("14.00")),
    CatalogueItem("STICKERS", "Sticker pack", Decimal("3.50")),
    CatalogueItem("POSTER-A2", "Poster, A2", Decimal("12.00")),
    CatalogueItem("BOTTLE-STEEL", "Steel bottle", Decimal("24.50")),
)


def seed_catalogue(db: Database, items: tuple[CatalogueItem, ...] = DEMO_CATALOGUE) -> int:
    """Insert or update every item (idempotent). Returns how many items there are."""
    with db.transaction() as session:
        for item in items:
            session.merge(
                Product(
                    sku=item.sku,
                    name=item.name,
                    unit_price=item.unit_price,
                    currency=CATALOGUE_CURRENCY,
                )
            )
    return len(items)
