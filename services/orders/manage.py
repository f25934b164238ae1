"""Database chores, run explicitly (never at import or API start-up).

python -m services.orders.manage create-schema   # create missing tables (idempotent)
python -m services.orders.manage seed-catalogue  # insert/update the demo catalogue (idempotent)
python -m services.orders.manage init            # both
"""

from __future__ import annotations

import argparse
import sys

from services.common.db import Database
from services.orders.catalogue import seed_catalogue
from services.orders.models import Base
from services.orders.settings import Settings


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["create-schema", "seed-catalogue", "init"])
    args = parser.parse_args(argv)
    settings = Settings()
    db = Database(settings.database_url)
    try:
        if args.command in ("create-schema", "init"):
            create_schema(db)
            print(f"schema ready in {db.engine.url.render_as_string(hide_password=True)}")
        if args.command in ("seed-catalogue", "init"):
            count = seed_catalogue(db)
            print(f"catalogue seeded: {count} products")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
