"""Seeding the orders catalogue from the shared demo catalogue (documented in docs/orders.md)."""

from __future__ import annotations

from services.common.catalogue import CATALOGUE_CURRENCY, DEMO_CATALOGUE, CatalogueItem
from services.common.db import Database
from services.orders.models import Product

__all__ = ["CATALOGUE_CURRENCY", "DEMO_CATALOGUE", "CatalogueItem", "seed_catalogue"]


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
