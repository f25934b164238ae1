"""Database chores of the email service: `python -m services.email.manage --help`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.db import Database
from services.common.manage import manage
from services.email.models import Base
from services.email.settings import Settings


def create_schema(db: Database) -> None:
    Base.metadata.create_all(db.engine)


def main(argv: Sequence[str] | None = None) -> int:
    return manage(
        argv, service="email", database_url=Settings().database_url, metadata=Base.metadata
    )


if __name__ == "__main__":
    sys.exit(main())
