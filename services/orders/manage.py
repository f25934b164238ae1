"""Database chores of the orders service: `python -m services.orders.manage --help`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.db import Database
from services.common.manage import Chore, manage
from services.orders.catalogue import seed_catalogue
from services.orders.models import Base
from services.orders.settings import Settings

CHORES = {
    "seed-catalogue": Chore(
        "insert or update the demo catalogue (idempotent)",
        lambda db: f"catalogue seeded: {seed_catalogue(db)} products",
        seeds=True,
    ),
}


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: Sequence[str] | None = None) -> int:
    return manage(
        argv,
        service="orders",
        database_url=Settings().database_url,
        metadata=Base.metadata,
        chores=CHORES,
    )


if __name__ == "__main__":
    sys.exit(main())
