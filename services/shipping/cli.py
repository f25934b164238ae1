"""Look at the shipments: `python -m services.shipping.cli shipments [--json]` (read-only).

shipments        one line per shipment, oldest first: order, carrier, tracking number, when
"""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from services.common.cli import run_cli
from services.common.db import Database
from services.shipping.models import Shipment
from services.shipping.settings import Settings


def shipments(db: Database) -> list[dict[str, str]]:
    with db.transaction() as session:
        rows = session.scalars(select(Shipment).order_by(Shipment.dispatched_at))
        return [
            {
                "order_id": s.order_id,
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "dispatched_at": s.dispatched_at.isoformat(),
            }
            for s in rows
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("shipments", help="every shipment, oldest first")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    db = Database(Settings().database_url)
    try:
        found = shipments(db)
    finally:
        db.dispose()
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for s in found:
        print(f"{s['order_id']}  {s['carrier']:<14} {s['tracking_number']}  {s['dispatched_at']}")
    print(f"{len(found)} shipment(s)")
    return 0


if __name__ == "__main__":
    run_cli(main)
