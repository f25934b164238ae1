"""Database chores of the email service, run explicitly (never at import or start-up).

python -m services.email.manage init   # create the sent_emails table (idempotent)
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from services.common.db import Database
from services.email.settings import Settings
from services.email.store import SentEmailStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["init", "create-schema"])
    parser.parse_args(argv)
    settings = Settings()
    db = Database(settings.database_url)
    try:
        SentEmailStore(db, lease=timedelta(seconds=settings.claim_lease_seconds)).create_schema()
        print(f"schema ready in {db.engine.url.render_as_string(hide_password=True)}")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
