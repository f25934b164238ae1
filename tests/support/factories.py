"""Valid domain objects for tests, built through the real contract models."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.common.events import Envelope, OrderConfirmed, OrderLine, OrderPlaced, OrderRejected
from services.common.events.shipping import ShipmentDispatched


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


def order_confirmed_event(placed: OrderPlaced | None = None) -> Envelope[OrderConfirmed]:
    placed = placed or order_placed()
    return Envelope.wrap(
        OrderConfirmed(
            order_id=placed.order_id,
            customer_email=placed.customer_email,
            lines=placed.lines,
            total=placed.total,
            currency=placed.currency,
        )
    )


def order_rejected_event(
    placed: OrderPlaced | None = None, short_skus: tuple[str, ...] = ("POSTER-A2",)
) -> Envelope[OrderRejected]:
    placed = placed or order_placed()
    return Envelope.wrap(
        OrderRejected(
            order_id=placed.order_id,
            customer_email=placed.customer_email,
            reason="not enough stock",
            short_skus=short_skus,
        )
    )


def shipment_dispatched_event(
    confirmed: OrderConfirmed | None = None,
) -> Envelope[ShipmentDispatched]:
    confirmed = confirmed or order_confirmed_event().data
    return Envelope.wrap(
        ShipmentDispatched(
            order_id=confirmed.order_id,
            customer_email=confirmed.customer_email,
            carrier="Deutsche Post",
            tracking_number=f"DPO{uuid.uuid4().hex[:10].upper()}",
            dispatched_at=datetime.now(UTC),
        )
    )


EVENT_FACTORIES: dict[str, Callable[[], Envelope[Any]]] = {
    "order.placed": order_placed_event,
    "order.confirmed": order_confirmed_event,
    "order.rejected": order_rejected_event,
    "shipment.dispatched": shipment_dispatched_event,
}
