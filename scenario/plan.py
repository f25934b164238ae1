"""What the scenario does: the orders it places, what each should end as, and the goods it has
delivered first so that they fit.

The scenario is meant to be run again and again on a system that keeps running, at any size.
So it never depends on the stock that happens to be left: it orders only well-stocked catalogue
SKUs and, before placing anything, tops each of them up (goods received) by what the run will
hold of it, beyond what is available now, plus the SKU's demo stock. Once the run's orders
hold their goods, every SKU it ordered still has at least its demo stock available: the next
run, or the README's first order, finds the shop as the demo left it. The scarce SKUs
(`POSTER-A2` sold out, `BOTTLE-STEEL` nearly) are never ordered or topped up; the one order
meant to be rejected asks for one more than is available of the scarcest.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

from services.common.catalogue import DEMO_CATALOGUE
from services.common.topology import ORDER_CONFIRMED, ORDER_REJECTED, order_events
from services.email.mails import MAILS_BY_EVENT
from services.inventory.stock import StockLevel

# A SKU with less demo stock than this is one the demo shows rejections with: never ordered.
WELL_STOCKED = 20
DEMO_STOCK = {item.sku: item.initial_stock for item in DEMO_CATALOGUE}


@dataclass
class PlannedOrder:
    label: str
    lines: list[tuple[str, int]]
    expected_status: str  # CONFIRMED | REJECTED
    idempotency_key: str = field(default_factory=lambda: f"scenario-{uuid.uuid4()}")
    post_twice: bool = False
    email: str = field(default_factory=lambda: f"customer-{uuid.uuid4().hex[:8]}@example.com")
    # filled in while running
    order_id: str | None = None
    status: str | None = None
    replayed_same_order: bool | None = None

    def body(self) -> dict[str, object]:
        return {
            "customer_email": self.email,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in self.lines],
        }

    @property
    def expected_mails(self) -> tuple[str, ...]:
        """The mails of every event of the order's life (services/common/topology/flow.py)."""
        decision = ORDER_CONFIRMED if self.expected_status == "CONFIRMED" else ORDER_REJECTED
        return tuple(mail for e in order_events(decision) for mail in MAILS_BY_EVENT.get(e, ()))


def plan_orders(
    stock: dict[str, StockLevel], in_stock_orders: int, seed: int
) -> list[PlannedOrder]:
    """`in_stock_orders` orders of well-stocked SKUs (1-2 units of 1-2 SKUs each), one that
    exceeds the stock of the scarcest other SKU, and one posted twice with the same
    Idempotency-Key."""
    rng = random.Random(seed)
    ordered = [sku for sku, demo in DEMO_STOCK.items() if demo >= WELL_STOCKED and sku in stock]
    scarce = [
        stock[sku] for sku, demo in DEMO_STOCK.items() if demo < WELL_STOCKED and sku in stock
    ]
    if not ordered or not scarce:
        raise ValueError("the inventory database lacks the demo SKUs: run `make databases`")
    orders = [
        PlannedOrder(
            label=f"in stock #{n + 1}",
            lines=[(sku, rng.randint(1, 2)) for sku in rng.sample(ordered, k=min(2, len(ordered)))],
            expected_status="CONFIRMED",
        )
        for n in range(in_stock_orders)
    ]
    scarcest = min(scarce, key=lambda s: s.available)
    orders.append(
        PlannedOrder(
            label=f"exceeds stock of {scarcest.sku}",
            lines=[(scarcest.sku, scarcest.available + 1)],
            expected_status="REJECTED",
        )
    )
    orders.append(
        PlannedOrder(
            label="posted twice, same Idempotency-Key",
            lines=[(ordered[0], 1)],
            expected_status="CONFIRMED",
            post_twice=True,
        )
    )
    return orders


def held_by(orders: list[PlannedOrder]) -> Counter[str]:
    """What the orders expected to be confirmed will hold, per SKU."""
    held: Counter[str] = Counter()
    for order in orders:
        if order.expected_status == "CONFIRMED":
            for sku, qty in order.lines:
                held[sku] += qty
    return held


def top_ups(stock: dict[str, StockLevel], orders: list[PlannedOrder]) -> dict[str, int]:
    """Goods to receive before placing `orders`, so that each SKU they hold keeps its demo stock
    available once they do: what they hold plus the demo stock, beyond what is available now."""
    needed = {
        sku: held + DEMO_STOCK[sku] - stock[sku].available for sku, held in held_by(orders).items()
    }
    return {sku: qty for sku, qty in sorted(needed.items()) if qty > 0}
