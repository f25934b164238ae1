"""Which carrier takes an order, and the tracking number it gets: a rule, not a call to anyone.

An order whose total reaches `SHIPPING_EXPRESS_FROM` goes express, a big one (more than
`BULKY_FROM` items) by freight, the rest by post. The tracking number is derived from the order
id alone, so the same order always gets the same number, whichever worker ships it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from services.common.events import OrderConfirmed

BULKY_FROM = 10  # items in one order


@dataclass(frozen=True)
class Carrier:
    name: str
    prefix: str  # of its tracking numbers


EXPRESS = Carrier("DHL Express", "DHX")
FREIGHT = Carrier("DB Schenker", "DBS")
POST = Carrier("Deutsche Post", "DPO")


def choose_carrier(order: OrderConfirmed, express_from: Decimal) -> Carrier:
    if order.total >= express_from:
        return EXPRESS
    if sum(line.quantity for line in order.lines) > BULKY_FROM:
        return FREIGHT
    return POST


def tracking_number(carrier: Carrier, order_id: str) -> str:
    """`<prefix><10 hex digits>`, a pure function of the order (and its carrier)."""
    digest = hashlib.sha256(f"{carrier.prefix}:{order_id}".encode()).hexdigest()
    return f"{carrier.prefix}{digest[:10].upper()}"
