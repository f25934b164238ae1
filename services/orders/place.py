"""Placing an order: price it from the catalogue, store it with its `order.placed` outbox row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.db import Database, insert_rows
from services.common.events import Envelope, OrderLine, OrderPlaced
from services.common.outbox import add_event
from services.orders.commands import PlaceOrder
from services.orders.errors import FieldProblem, IdempotencyKeyReused, InvalidOrder
from services.orders.models import (
    IdempotencyKey,
    Order,
    OrderHistory,
    OutboxMessage,
    Product,
)
from services.orders.models import OrderLine as OrderLineRow
from services.orders.read import NewEvent, OrderView, load_view, order_view
from services.orders.status import OrderStatus


@dataclass(frozen=True)
class Placement:
    order: OrderView
    created: bool  # False: an Idempotency-Key replay of an earlier request


def place_order(cmd: PlaceOrder, db: Database) -> Placement:
    """Store the order and its `order.placed` outbox row in one transaction."""
    try:
        placement = _place(cmd, db)
    except IntegrityError:
        if cmd.idempotency_key is None:
            raise
        # A concurrent request with the same key committed first (PostgreSQL); replay it.
        placement = _place(cmd, db)
    return placement


def _place(cmd: PlaceOrder, db: Database) -> Placement:
    with db.transaction() as session:
        earlier = _earlier_placement(session, cmd)
        if earlier is not None:
            return earlier
        products = _priced_lines(session, cmd)
        now = datetime.now(UTC)
        order = _new_order(cmd, products, now)
        insert_rows(session, [order])
        insert_rows(session, order.lines)
        insert_rows(session, order.history)
        if cmd.idempotency_key is not None:
            key = IdempotencyKey(
                key=cmd.idempotency_key,
                request_hash=cmd.request_hash(),
                order_id=order.id,
                created_at=now,
            )
            insert_rows(session, [key])
        envelope = Envelope.wrap(_order_placed(order), correlation_id=cmd.correlation_id)
        recorded_at = add_event(session, OutboxMessage, envelope, aggregate_id=order.id)
        # The answer comes from the objects in hand (what GET /orders/{id} would read back).
        event = NewEvent(event_id=envelope.id, event_type=envelope.type, created_at=recorded_at)
        return Placement(order_view(order, [event]), created=True)


def _earlier_placement(session: Session, cmd: PlaceOrder) -> Placement | None:
    """The order an earlier request with the same Idempotency-Key and body placed, if any."""
    if cmd.idempotency_key is None:
        return None
    earlier = session.get(IdempotencyKey, cmd.idempotency_key)
    if earlier is None:
        return None
    if earlier.request_hash != cmd.request_hash():
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request",
            [
                FieldProblem(
                    "Idempotency-Key", "already used with a different body; use a new key", "header"
                )
            ],
        )
    return Placement(load_view(session, earlier.order_id), created=False)


def _new_order(cmd: PlaceOrder, products: dict[str, Product], now: datetime) -> Order:
    """A PENDING order priced from the catalogue, with its lines and first timeline step."""
    order = Order(
        id=str(uuid.uuid4()),
        customer_email=cmd.customer_email,
        currency=cmd.currency,
        total=sum((products[ln.sku].unit_price * ln.quantity for ln in cmd.lines), Decimal("0")),
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    order.lines = [
        OrderLineRow(
            order_id=order.id,
            position=i,
            sku=ln.sku,
            name=products[ln.sku].name,
            quantity=ln.quantity,
            unit_price=products[ln.sku].unit_price,
        )
        for i, ln in enumerate(cmd.lines)
    ]
    order.history = [
        OrderHistory(order_id=order.id, at=now, status=OrderStatus.PENDING, note="order accepted")
    ]
    return order


def _priced_lines(session: Session, cmd: PlaceOrder) -> dict[str, Product]:
    skus = [ln.sku for ln in cmd.lines]
    products = {
        p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(set(skus))))
    }
    problems: list[FieldProblem] = []
    seen: set[str] = set()
    for i, sku in enumerate(skus):
        if sku in seen:
            problems.append(
                FieldProblem(f"lines.{i}.sku", f"{sku} appears twice; put it on one line")
            )
        seen.add(sku)
        product = products.get(sku)
        if product is None:
            problems.append(FieldProblem(f"lines.{i}.sku", f"unknown SKU {sku}"))
        elif product.currency != cmd.currency:
            problems.append(
                FieldProblem(
                    "currency", f"{sku} is sold in {product.currency}, not in {cmd.currency}"
                )
            )
    if problems:
        raise InvalidOrder("the order cannot be placed", problems)
    return products


def event_lines(order: Order) -> tuple[OrderLine, ...]:
    """An order's lines as the order events carry them."""
    return tuple(
        OrderLine(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price) for ln in order.lines
    )


def _order_placed(order: Order) -> OrderPlaced:
    return OrderPlaced(
        order_id=order.id,
        customer_email=order.customer_email,
        lines=event_lines(order),
        total=order.total,
        currency=order.currency,
    )
