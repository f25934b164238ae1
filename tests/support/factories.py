"""Valid domain objects for tests, built through the real contract models."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from services.common.events import Envelope, OrderLine, OrderPlaced


def order_placed(
    *,
    order_id: str | None = None,
    email: str = "ada@example.com",
    lines: list[tuple[str, int, str]] | None = None,
    currency: str = "EUR",
) -> OrderPlaced:
    lines = lines or [("MUG-BLUE", 2, "8.50"), ("TEE-M", 1, "19.90")]
    order_lines = tuple(
        OrderLine(sku=sku, quantity=qty, unit_price=Decimal(price)) for sku, qty, price in lines
    )
    total = sum((ln.unit_price * ln.quantity for ln in order_lines), Decimal("0"))
    return OrderPlaced(
        order_id=order_id or str(uuid.uuid4()),
        customer_email=email,
        lines=order_lines,
        total=total,
        currency=currency,
    )


def order_placed_event(**kw: Any) -> Envelope[OrderPlaced]:
    return Envelope.wrap(order_placed(**kw))
