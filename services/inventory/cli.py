"""Look at the inventory: `python -m services.inventory.cli stock [--json]`.

stock            on hand, reserved and available per SKU
order ORDER_ID   what was decided for one order (reserved lines or shortages)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import select

from services.common.cli import run_cli
from services.common.db import Database
from services.inventory.models import Reservation, ReservationOutcome
from services.inventory.settings import Settings
from services.inventory.stock import stock_levels


def order_outcome(db: Database, order_id: str) -> dict[str, Any] | None:
    with db.transaction() as session:
        outcome = session.get(ReservationOutcome, order_id)
        if outcome is None:
            return None
        lines = session.scalars(
            select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.sku)
        )
        return {
            "order_id": order_id,
            "status": outcome.status,
            "event_id": outcome.event_id,
            "correlation_id": outcome.correlation_id,
            "decided_at": outcome.decided_at.isoformat(),
            "reserved": [{"sku": r.sku, "quantity": r.quantity} for r in lines],
            **outcome.detail,
        }


def _print_stock(db: Database, as_json: bool) -> None:
    levels = stock_levels(db)
    if as_json:
        print(json.dumps([lvl.to_dict() for lvl in levels], indent=2))
        return
    print(f"{'SKU':<16}{'ON HAND':>9}{'RESERVED':>10}{'AVAILABLE':>11}")
    for lvl in levels:
        print(f"{lvl.sku:<16}{lvl.on_hand:>9}{lvl.reserved:>10}{lvl.available:>11}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    stock = sub.add_parser("stock", help="stock levels per SKU")
    stock.add_argument("--json", action="store_true", help="machine-readable output")
    order = sub.add_parser("order", help="the reservation outcome of one order")
    order.add_argument("order_id")
    args = parser.parse_args(argv)

    db = Database(Settings().database_url)
    try:
        if args.command == "stock":
            _print_stock(db, args.json)
            return 0
        found = order_outcome(db, args.order_id)
        if found is None:
            print(f"no outcome for order {args.order_id}", file=sys.stderr)
            return 1
        print(json.dumps(found, indent=2))
        return 0
    finally:
        db.dispose()


if __name__ == "__main__":
    run_cli(main)
