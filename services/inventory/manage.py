"""Database chores, run explicitly (never at import or worker start-up).

python -m services.inventory.manage create-schema   # create missing tables (idempotent)
python -m services.inventory.manage seed-stock      # demo stock for catalogue SKUs without a row
python -m services.inventory.manage init            # both
python -m services.inventory.manage stock [--json]  # stock levels (the same as `cli stock`)
python -m services.inventory.manage order ORDER_ID  # one order's outcome (the same as `cli order`)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.db import Database
from services.common.manage import run_db_chores
from services.inventory import cli
from services.inventory.models import Base
from services.inventory.settings import Settings
from services.inventory.stock import seed_stock

LOOK_COMMANDS = ("stock", "order")  # read-only: served by services/inventory/cli.py


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in LOOK_COMMANDS:
        return cli.main(args)
    return run_db_chores(
        args,
        description=__doc__ or "",
        database_url=Settings().database_url,
        metadata=Base.metadata,
        seed_command="seed-stock",
        seed=lambda db: f"demo stock seeded: {seed_stock(db)} SKUs added",
    )


if __name__ == "__main__":
    sys.exit(main())
