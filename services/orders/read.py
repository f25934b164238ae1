"""Reading orders: the read model (what the API answers for an order) and the queries behind it.

Placing an order answers with the same model, built from the objects in hand, so a POST's body
is what the GET that follows returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from services.common.db import Database
from services.common.events.money import Currency, Money
from services.orders.commands import ListOrders
from services.orders.errors import FieldProblem, OrderNotFound
from services.orders.models import Order, OrderHistory, OutboxMessage
from services.orders.status import OrderStatus


class LineView(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str = Field(examples=["MUG-BLUE"])
    name: str = Field(examples=["Mug, blue"])
    quantity: int = Field(examples=[2])
    unit_price: Money
    line_total: Money


class TimelineEntry(BaseModel):
    """One step: a status change (with the status after it), an event received from inventory
    (`event_id` is that event's id), or one of our events recorded in/published from the outbox."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    what: str = Field(
        examples=[
            "order accepted",
            "order.placed published",
            "stock reserved: MUG-BLUE x2",
            "order confirmed",
            "stale stock.reserved ignored: the order is already EXPIRED",
        ]
    )
    status: OrderStatus | None = Field(default=None, examples=["CONFIRMED"])
    event_id: str | None = Field(default=None, examples=["5f0c8a9e-2d4b-4e1a-8c3f-9b7d6e5a4c21"])


class TimelineStep(TimelineEntry):
    """A step of the live timeline (docs/storefront.md): an `order_history` row with its position,
    which only grows for one order, so a client that has seen position p asks for what is after p.
    Our own events' "recorded"/"published" entries are not steps: the page follows the order,
    not the outbox."""

    position: int = Field(examples=[17])


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


class RecordedEvent(Protocol):
    """What the timeline shows of an outbox row: a stored `OutboxMessage`, or the row a handler
    has just added (`NewEvent`), so that it can answer without reading the row back."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def published_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class NewEvent:
    """An outbox row added in the current transaction: not published yet."""

    event_id: str
    event_type: str
    created_at: datetime
    published_at: None = None


def order_view(order: Order, events: Sequence[RecordedEvent]) -> OrderView:
    timeline = [
        TimelineEntry(at=h.at, what=h.note, status=h.status, event_id=h.event_id)
        for h in order.history
    ]
    for event in events:
        timeline += event_entries(event)
    timeline.sort(key=lambda entry: entry.at)
    return OrderView(
        id=order.id,
        status=order.status,
        customer_email=order.customer_email,
        currency=order.currency,
        lines=[line_view(ln.sku, ln.name, ln.quantity, ln.unit_price) for ln in order.lines],
        total=order.total,
        created_at=order.created_at,
        updated_at=order.updated_at,
        timeline=timeline,
    )


def line_view(sku: str, name: str, quantity: int, unit_price: Decimal) -> LineView:
    return LineView(
        sku=sku,
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        line_total=unit_price * quantity,
    )


def event_entries(event: RecordedEvent) -> list[TimelineEntry]:
    """What the timeline shows of one of our events: recorded, and published once it is."""
    what = event.event_type
    entries = [TimelineEntry(at=event.created_at, what=f"{what} recorded", event_id=event.event_id)]
    if event.published_at is not None:
        entries.append(
            TimelineEntry(at=event.published_at, what=f"{what} published", event_id=event.event_id)
        )
    return entries


def load_view(session: Session, order_id: str) -> OrderView:
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.history))
    )
    if order is None:
        raise _not_found(order_id)
    events = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.aggregate_id == order_id)
            .order_by(OutboxMessage.id)
        )
    )
    return order_view(order, events)


def steps_after(order_id: str, position: int, db: Database) -> list[TimelineStep]:
    """The order's steps after `position`, oldest first (all of them for position 0)."""
    with db.transaction() as session:
        rows = session.scalars(
            select(OrderHistory)
            .where(OrderHistory.order_id == order_id, OrderHistory.id > position)
            .order_by(OrderHistory.id)
        )
        return [
            TimelineStep(position=h.id, at=h.at, what=h.note, status=h.status, event_id=h.event_id)
            for h in rows
        ]


def order_exists(order_id: str, db: Database) -> None:
    """Raise `OrderNotFound` unless the order exists."""
    with db.transaction() as session:
        if session.get(Order, order_id) is None:
            raise _not_found(order_id)


def _not_found(order_id: str) -> OrderNotFound:
    return OrderNotFound(
        f"no order with id {order_id}", [FieldProblem("order_id", "no such order", "path")]
    )


def get_order(order_id: str, db: Database) -> OrderView:
    with db.transaction() as session:
        return load_view(session, order_id)


def list_orders(query: ListOrders, db: Database) -> OrderPage:
    page, page_size = query.page, query.page_size
    with db.transaction() as session:
        where = [Order.status == query.status] if query.status is not None else []
        total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
        orders = session.scalars(
            select(Order)
            .where(*where)
            .order_by(Order.created_at.desc(), Order.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
            .options(selectinload(Order.lines), selectinload(Order.history))
        ).all()
        ids = [o.id for o in orders]
        events: dict[str, list[OutboxMessage]] = {i: [] for i in ids}
        for event in session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.aggregate_id.in_(ids))
            .order_by(OutboxMessage.id)
        ):
            events[event.aggregate_id].append(event)
        items = [order_view(o, events[o.id]) for o in orders]
    return OrderPage(
        items=items,
        page=page,
        page_size=page_size,
        total=total,
        next_page=page + 1 if page * page_size < total else None,
    )
