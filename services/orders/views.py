"""Read models: what the API returns for an order."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.common.events.money import Currency, Money
from services.orders.models import Order, OrderStatus, OutboxMessage


class LineView(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str = Field(examples=["MUG-BLUE"])
    name: str = Field(examples=["Mug, blue"])
    quantity: int = Field(examples=[2])
    unit_price: Money
    line_total: Money


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    what: str = Field(examples=["order accepted", "order.placed published"])
    status: OrderStatus | None = None
    event_id: str | None = None


class OrderView(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(examples=["0b9e4f1c-3c5e-4b7a-9a0e-5d1f6f0c2a11"])
    status: OrderStatus
    customer_email: str = Field(examples=["ada@example.com"])
    currency: Currency
    lines: list[LineView]
    total: Money
    created_at: datetime
    updated_at: datetime
    timeline: list[TimelineEntry]


class OrderPage(BaseModel):
    items: list[OrderView]
    page: int = Field(examples=[1])
    page_size: int = Field(examples=[20])
    total: int = Field(description="orders matching the filter, over all pages", examples=[42])
    next_page: int | None = Field(description="null on the last page", examples=[2])


def order_view(order: Order, events: list[OutboxMessage]) -> OrderView:
    timeline = [
        TimelineEntry(at=h.at, what=h.note, status=OrderStatus(h.status)) for h in order.history
    ]
    for event in events:
        timeline.append(
            TimelineEntry(
                at=event.created_at, what=f"{event.event_type} recorded", event_id=event.event_id
            )
        )
        if event.published_at is not None:
            timeline.append(
                TimelineEntry(
                    at=event.published_at,
                    what=f"{event.event_type} published",
                    event_id=event.event_id,
                )
            )
    timeline.sort(key=lambda entry: entry.at)
    return OrderView(
        id=order.id,
        status=OrderStatus(order.status),
        customer_email=order.customer_email,
        currency=order.currency,
        lines=[
            LineView(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.unit_price * line.quantity,
            )
            for line in order.lines
        ],
        total=order.total,
        created_at=order.created_at,
        updated_at=order.updated_at,
        timeline=timeline,
    )
