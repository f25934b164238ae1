"""The `manage` command every service with a database has: create the schema, seed demo data.

Run explicitly (`make databases`), never at import or start-up. Both steps are idempotent.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sqlalchemy import MetaData

from services.common.db import Database


def run_db_chores(
    argv: Sequence[str] | None,
    *,
    description: str,
    database_url: str,
    metadata: MetaData,
    seed_command: str,
    seed: Callable[[Database], str],
) -> int:
    """`create-schema`, `<seed_command>` or `init` (both); `seed` returns a line to print."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["create-schema", seed_command, "init"])
    args = parser.parse_args(argv)
    db = Database(database_url)
    try:
        if args.command in ("create-schema", "init"):
            metadata.create_all(db.engine)
            print(f"schema ready in {db.engine.url.render_as_string(hide_password=True)}")
        if args.command in (seed_command, "init"):
            print(seed(db))
    finally:
        db.dispose()
    return 0
