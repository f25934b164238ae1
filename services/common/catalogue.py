"""The demo catalogue, defined once: orders sells these SKUs at these prices, inventory stocks
them. Each service seeds its own database from it (`services.orders.manage seed-catalogue`,
`services.inventory.manage seed-stock`); nothing reads another service's database.

`POSTER-A2` starts sold out and `BOTTLE-STEEL` nearly so, so the demo shows rejections too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

CATALOGUE_CURRENCY = "EUR"


class CatalogueItem(NamedTuple):
    sku: str
    name: str
    unit_price: Decimal
    initial_stock: int = 100


DEMO_CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("MUG-BLUE", "Mug, blue", Decimal("8.50"), 100),
    CatalogueItem("MUG-RED", "Mug, red", Decimal("8.50"), 100),
    CatalogueItem("TEE-S", "T-shirt, size S", Decimal("19.90"), 50),
    CatalogueItem("TEE-M", "T-shirt, size M", Decimal("19.90"), 50),
    CatalogueItem("TEE-L", "T-shirt, size L", Decimal("19.90"), 50),
    CatalogueItem("HOODIE-M", "Hoodie, size M", Decimal("39.00"), 20),
    CatalogueItem("CAP-BLACK", "Cap, black", Decimal("14.00"), 30),
    CatalogueItem("STICKERS", "Sticker pack", Decimal("3.50"), 500),
    CatalogueItem("POSTER-A2", "Poster, A2", Decimal("12.00"), 0),
    CatalogueItem("BOTTLE-STEEL", "Steel bottle", Decimal("24.50"), 3),
)
