"""What the scenario does: the orders it places and what each should end as."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from services.common.catalogue import DEMO_CATALOGUE
from services.inventory.stock import StockLevel


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
        second = "order_confirmed" if self.expected_status == "CONFIRMED" else "order_rejected"
        return ("order_received", second)


def plan_orders(
    stock: dict[str, StockLevel], in_stock_orders: int, seed: int
) -> list[PlannedOrder]:
    """`in_stock_orders` orders that fit in the stock now (at 1-2 units each), one that exceeds
    the stock of some SKU, and one posted twice with the same Idempotency-Key."""
    rng = random.Random(seed)
    plenty = [
        item.sku
        for item in DEMO_CATALOGUE
        if item.sku in stock and stock[item.sku].available >= 2 * (in_stock_orders + 1) + 10
    ]
    if not plenty:
        raise SystemExit("not enough stock left for a scenario run: reset the demo data")
    orders = [
        PlannedOrder(
            label=f"in stock #{n + 1}",
            lines=[(sku, rng.randint(1, 2)) for sku in rng.sample(plenty, k=min(2, len(plenty)))],
            expected_status="CONFIRMED",
        )
        for n in range(in_stock_orders)
    ]
    scarce = min(stock.values(), key=lambda s: s.available)
    orders.append(
        PlannedOrder(
            label=f"exceeds stock of {scarce.sku}",
            lines=[(scarce.sku, scarce.available + 1)],
            expected_status="REJECTED",
        )
    )
    orders.append(
        PlannedOrder(
            label="posted twice, same Idempotency-Key",
            lines=[(plenty[0], 1)],
            expected_status="CONFIRMED",
            post_twice=True,
        )
    )
    return orders
