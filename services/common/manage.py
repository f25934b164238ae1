"""The `manage` command every service has: create its schema, seed its demo data, and the
service's own chores. Run explicitly (`make databases`), never at import or start-up.

    python -m services.<name>.manage create-schema   # missing tables, columns, indexes (idempotent)
    python -m services.<name>.manage init            # create-schema, then every seed chore
    python -m services.<name>.manage <chore>         # one of the service's chores (see --help)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import MetaData

from services.common.db import Database
from services.common.schema import add_missing_columns, add_missing_indexes


@dataclass(frozen=True)
class Chore:
    help: str
    run: Callable[[Database], str]  # returns the line to print
    seeds: bool = False  # part of `init`


def manage(
    argv: Sequence[str] | None,
    *,
    service: str,
    database_url: str,
    metadata: MetaData,
    chores: Mapping[str, Chore] | None = None,
) -> int:
    chores = dict(chores or {})
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}.manage",
        description=f"Database chores of the {service} service.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    commands.add_parser(
        "create-schema", help="create missing tables, columns and indexes (idempotent)"
    )
    commands.add_parser("init", help="create-schema, then seed the demo data (idempotent)")
    for name, chore in chores.items():
        commands.add_parser(name, help=chore.help)
    args = parser.parse_args(argv)
    db = Database(database_url)
    try:
        if args.command in ("create-schema", "init"):
            metadata.create_all(db.engine)
            for column in add_missing_columns(db.engine, metadata):
                print(f"added column {column}")
            for index in add_missing_indexes(db.engine, metadata):
                print(f"added index {index}")
            print(f"schema ready in {db.engine.url.render_as_string(hide_password=True)}")
        run = [c for c in chores.values() if c.seeds] if args.command == "init" else []
        if args.command in chores:
            run = [chores[args.command]]
        for chore in run:
            print(chore.run(db))
    finally:
        db.dispose()
    return 0
