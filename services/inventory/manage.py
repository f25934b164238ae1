"""Database chores, run explicitly (never at import or worker start-up).

python -m services.inventory.manage create-schema   # create missing tables (idempotent)
python -m services.inventory.manage seed-stock      # demo stock for catalogue SKUs without a row
python -m services.inventory.manage init            # both
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.db import Database
from services.common.manage import run_db_chores
from services.inventory.models import Base
from services.inventory.settings import Settings
from services.inventory.stock import seed_stock


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: Sequence[str] | None = None) -> int:
    return run_db_chores(
        argv,
        description=__doc__ or "",
        database_url=Settings().database_url,
        metadata=Base.metadata,
        seed_command="seed-stock",
        seed=lambda db: f"demo stock seeded: {seed_stock(db)} SKUs added",
    )


if __name__ == "__main__":
    sys.exit(main())
