"""Database chores of the inventory service: `python -m services.inventory.manage --help`.

Looking at the stock is `python -m services.inventory.cli stock|order` (read-only).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.db import Database
from services.common.manage import Chore, manage
from services.inventory.models import Base
from services.inventory.settings import Settings
from services.inventory.stock import reset_stock, seed_stock

CHORES = {
    "seed-stock": Chore(
        "give catalogue SKUs without a stock row their demo stock (never undoes reservations)",
        lambda db: f"demo stock seeded: {seed_stock(db)} SKUs added",
        seeds=True,
    ),
    "reset-stock": Chore(
        "make every catalogue SKU's demo stock available again (on hand = reserved + demo "
        "stock); what orders hold stays reserved",
        lambda db: f"demo stock available again: {reset_stock(db)} SKUs",
    ),
}


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: Sequence[str] | None = None) -> int:
    return manage(
        argv,
        service="inventory",
        database_url=Settings().database_url,
        metadata=Base.metadata,
        chores=CHORES,
    )


if __name__ == "__main__":
    sys.exit(main())
