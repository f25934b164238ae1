"""The orders catalogue: seeded from the shared demo catalogue (documented in docs/orders.md),
and read by `GET /products`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.common.catalogue import CATALOGUE_CURRENCY, DEMO_CATALOGUE, CatalogueItem
from services.common.db import Database
from services.common.events.money import Currency, Money
from services.orders.models import Product

__all__ = [
    "CATALOGUE_CURRENCY",
    "DEMO_CATALOGUE",
    "CatalogueItem",
    "ProductView",
    "list_products",
    "seed_catalogue",
]


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


class ProductView(BaseModel):
    """One product of the catalogue as `GET /products` shows it."""

    model_config = ConfigDict(frozen=True)

    sku: str = Field(examples=["MUG-BLUE"])
    name: str = Field(examples=["Mug, blue"])
    unit_price: Money
    currency: Currency


def list_products(db: Database) -> list[ProductView]:
    """The catalogue, by SKU: what the storefront offers, at the prices orders are charged."""
    with db.transaction() as session:
        return [
            ProductView(sku=p.sku, name=p.name, unit_price=p.unit_price, currency=p.currency)
            for p in session.scalars(select(Product).order_by(Product.sku))
        ]
