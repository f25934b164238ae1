"""Database chores of the shipping service: `python -m services.shipping.manage --help`.

Looking at the shipments is `python -m services.shipping.cli shipments` (read-only).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.common.manage import manage
from services.shipping.models import Base
from services.shipping.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    return manage(
        argv, service="shipping", database_url=Settings().database_url, metadata=Base.metadata
    )


if __name__ == "__main__":
    sys.exit(main())
