"""Placing an order: price it from the catalogue, store it with its `order.placed` outbox row.

Statements built once, not ORM objects and flushes: every POST /orders runs them. The catalogue
is read with one table SELECT, the rows are plain values inserted through `TableInsert`
(services/common/table_insert.py), and the answer is built from the same values
(docs/benchmarks.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TypedDict

from sqlalchemy import Connection, Select, String, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.db import Database, table_of
from services.common.events import Envelope, OrderLine, OrderPlaced
from services.common.outbox import add_event
from services.common.table_insert import TableInsert
from services.common.topology import order_priority
from services.orders.commands import PlaceOrder
from services.orders.errors import FieldProblem, IdempotencyKeyReused, InvalidOrder
from services.orders.models import IdempotencyKey, Order, OrderHistory, OutboxMessage, Product
from services.orders.models import OrderLine as OrderLineRow
from services.orders.read import (
    NewEvent,
    OrderView,
    TimelineEntry,
    event_entries,
    line_view,
    load_view,
)
from services.orders.status import OrderStatus

ACCEPTED = "order accepted"  # the first step of every order's timeline

# pydantic keeps a parametrized generic class only while something else refers to it: without
# this, a garbage collection could drop `Envelope[OrderPlaced]`, and the next order built the
# class again (about 3 ms; one order in ten paid it in a loop of orders).
PLACED_ENVELOPE = Envelope[OrderPlaced]

_product = table_of(Product).c


@cache  # one per count of distinct SKUs in an order: at most 100 (the request model's limit)
def _prices(count: int) -> Select[str, str, Decimal, str]:
    """The catalogue rows of `count` SKUs, bound as `sku0`, `sku1`, ...: a statement per count
    rather than one "expanding" IN, which SQLAlchemy renders anew for every execution."""
    skus = [bindparam(f"sku{i}", type_=String) for i in range(count)]
    return select(_product.sku, _product.name, _product.unit_price, _product.currency).where(
        _product.sku.in_(skus)
    )


class _OrderRow(TypedDict):
    id: str
    customer_email: str
    currency: str
    total: Decimal
    status: OrderStatus
    created_at: datetime
    updated_at: datetime


class _LineRow(TypedDict):
    order_id: str
    position: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


# Each row gives every column its TypedDict names.
_INSERT_ORDER = TableInsert(Order, list(_OrderRow.__annotations__))
_INSERT_LINES = TableInsert(OrderLineRow, list(_LineRow.__annotations__))
_INSERT_STEP = TableInsert(OrderHistory, ["order_id", "at", "status", "note"])  # no event_id
_INSERT_KEY = TableInsert(IdempotencyKey, ["key", "request_hash", "order_id", "created_at"])


@dataclass(frozen=True)
class Placement:
    order: OrderView
    created: bool  # False: an Idempotency-Key replay of an earlier request


@dataclass(frozen=True)
class _Product:
    name: str
    unit_price: Decimal
    currency: str


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
        conn = session.connection()
        now = datetime.now(UTC)
        order, lines = _order_rows(cmd, _priced_lines(conn, cmd), now)
        order_id = order["id"]
        _INSERT_ORDER.run(conn, [order])
        _INSERT_LINES.run(conn, lines)
        _INSERT_STEP.run(
            conn,
            [{"order_id": order_id, "at": now, "status": order["status"], "note": ACCEPTED}],
        )
        if cmd.idempotency_key is not None:
            key = {
                "key": cmd.idempotency_key,
                "request_hash": cmd.request_hash(),
                "order_id": order_id,
                "created_at": now,
            }
            _INSERT_KEY.run(conn, [key])
        envelope = PLACED_ENVELOPE.wrap(
            _order_placed(order, lines, cmd.express), correlation_id=cmd.correlation_id
        )
        recorded_at = add_event(
            session,
            OutboxMessage,
            envelope,
            aggregate_id=order_id,
            priority=order_priority(cmd.express),
        )
        # The answer comes from the values in hand (what GET /orders/{id} would read back).
        event = NewEvent(event_id=envelope.id, event_type=envelope.type, created_at=recorded_at)
        return Placement(_new_order_view(order, lines, event), created=True)


def _order_rows(
    cmd: PlaceOrder, products: dict[str, _Product], now: datetime
) -> tuple[_OrderRow, list[_LineRow]]:
    """The order's row and its lines' rows, priced from `products` (by SKU)."""
    order_id = str(uuid.uuid4())
    lines = [
        _LineRow(
            order_id=order_id,
            position=i,
            sku=ln.sku,
            name=products[ln.sku].name,
            quantity=ln.quantity,
            unit_price=products[ln.sku].unit_price,
        )
        for i, ln in enumerate(cmd.lines)
    ]
    order = _OrderRow(
        id=order_id,
        customer_email=cmd.customer_email,
        currency=cmd.currency,
        total=sum((ln["unit_price"] * ln["quantity"] for ln in lines), Decimal("0")),
        status=OrderStatus.PENDING,
        created_at=now,
        updated_at=now,
    )
    return order, lines


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


def _priced_lines(conn: Connection, cmd: PlaceOrder) -> dict[str, _Product]:
    skus = [ln.sku for ln in cmd.lines]
    distinct = sorted(set(skus))
    rows = conn.execute(_prices(len(distinct)), {f"sku{i}": sku for i, sku in enumerate(distinct)})
    products = {sku: _Product(name, price, currency) for sku, name, price, currency in rows}
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


def _order_placed(order: _OrderRow, lines: list[_LineRow], express: bool) -> OrderPlaced:
    return OrderPlaced(
        order_id=order["id"],
        customer_email=order["customer_email"],
        lines=tuple(
            OrderLine(sku=ln["sku"], quantity=ln["quantity"], unit_price=ln["unit_price"])
            for ln in lines
        ),
        total=order["total"],
        currency=order["currency"],
        express=express,
    )


def _new_order_view(order: _OrderRow, lines: list[_LineRow], event: NewEvent) -> OrderView:
    """The view of the order just placed: its lines, its first step and its event recorded."""
    return OrderView(
        id=order["id"],
        status=order["status"],
        customer_email=order["customer_email"],
        currency=order["currency"],
        lines=[line_view(ln["sku"], ln["name"], ln["quantity"], ln["unit_price"]) for ln in lines],
        total=order["total"],
        created_at=order["created_at"],
        updated_at=order["updated_at"],
        timeline=[
            TimelineEntry(at=order["created_at"], what=ACCEPTED, status=order["status"]),
            *event_entries(event),
        ],
    )
