"""Deciding an order from inventory's answers: confirm it, reject it, or just record a release.

Each event is handled in ONE transaction: the inbox row (a duplicate changes nothing), the move
out of PENDING with its timeline entries (lifecycle.py), and the `order.confirmed` /
`order.rejected` outbox row. The relay is woken once it commits.

An answer for an order that is no longer PENDING is stale (lifecycle.py's rule: timeline entry,
no status change); one for an unknown order is only logged. Both are logged as WARNING and acked
(recorded in the inbox), not retried: nothing would ever make them applicable.

The order is read with table statements into a small value (`_Order`), not loaded as ORM objects
with their lines: the handler was half of the worker's CPU per answer, most of it the ORM's loading
and flushing (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeAlias

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.common.db import Database, table_of
from services.common.events import (
    Envelope,
    EventData,
    OrderConfirmed,
    OrderLine,
    OrderRejected,
    OrderUpdated,
    StockRejected,
    StockReserved,
)
from services.common.inbox import first_delivery
from services.common.outbox import add_event
from services.common.worker.errors import PermanentError
from services.orders.lifecycle import (
    Trigger,
    leave_pending,
    note,
    notes,
    record_stale,
)
from services.orders.models import Order, OutboxMessage, ProcessedEvent
from services.orders.models import OrderLine as OrderLineRow
from services.orders.status import OrderStatus

log = logging.getLogger("shopflow.orders.lifecycle")  # the name operators filter decisions on


class Outcome(StrEnum):
    """What handling one event did; the last word of its log line."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RECORDED = "recorded"  # written to the timeline, status unchanged (stock.released...)
    STALE = "stale"  # the order had already left PENDING: timeline entry only
    UNKNOWN_ORDER = "unknown order"  # no such order: logged only
    DUPLICATE = "duplicate"  # already processed: nothing at all


@dataclass(frozen=True)
class _Order:
    """What deciding needs of an order, as it was when the transaction read it."""

    id: str
    status: OrderStatus
    customer_email: str
    total: Decimal
    currency: str


_ORDERS = table_of(Order)
_LINES = table_of(OrderLineRow)
_ORDER = select(
    _ORDERS.c.id, _ORDERS.c.status, _ORDERS.c.customer_email, _ORDERS.c.total, _ORDERS.c.currency
).where(_ORDERS.c.id == bindparam("order_id"))
_ORDER_LINES = (
    select(_LINES.c.sku, _LINES.c.quantity, _LINES.c.unit_price)
    .where(_LINES.c.order_id == bindparam("order_id"))
    .order_by(_LINES.c.position)
)


def _load(session: Session, order_id: str) -> _Order | None:
    row = session.execute(_ORDER, {"order_id": order_id}).first()
    return None if row is None else _Order(*row)


def _lines(session: Session, order_id: str) -> tuple[OrderLine, ...]:
    """The order's lines as the order events carry them, in the order they were placed."""
    rows = session.execute(_ORDER_LINES, {"order_id": order_id})
    return tuple(OrderLine(sku=sku, quantity=qty, unit_price=price) for sku, qty, price in rows)


Step: TypeAlias = Callable[[Session, _Order, Any, datetime], Outcome]


def confirm_order(event: Envelope[StockReserved], db: Database) -> Outcome:
    return _handle(event, db, _confirm)


def reject_order(event: Envelope[StockRejected], db: Database) -> Outcome:
    return _handle(event, db, _reject)


def note_on_timeline(event: Envelope[Any], db: Database) -> Outcome:
    """Another service's event that concerns an order without deciding it (stock released, say;
    services/orders/worker.py lists them): its `timeline_note` becomes a step of the order's
    timeline, and `order.updated` tells the live pages."""
    return _handle(event, db, _note)


def _handle(event: Envelope[Any], db: Database, step: Step) -> Outcome:
    order_id: str = event.data.order_id
    with db.transaction() as session:
        if not first_delivery(session, ProcessedEvent, event):
            outcome = Outcome.DUPLICATE
        elif (order := _load(session, order_id)) is None:
            outcome = Outcome.UNKNOWN_ORDER
        else:
            outcome = step(session, order, event, datetime.now(UTC))
    level = logging.INFO
    if outcome in (Outcome.STALE, Outcome.UNKNOWN_ORDER):
        level = logging.WARNING
    log.log(level, "%s for order %s: %s", event.describe(), order_id, outcome)
    return outcome


def _stale(session: Session, order_id: str, event: Envelope[Any], now: datetime) -> Outcome:
    record_stale(session, order_id, event, now)
    return Outcome.STALE


def _confirm(
    session: Session, order: _Order, event: Envelope[StockReserved], now: datetime
) -> Outcome:
    if order.status != OrderStatus.PENDING:
        return _stale(session, order.id, event, now)
    lines = _lines(session, order.id)
    reserved = {line.sku: line.quantity for line in event.data.lines}
    ordered = {line.sku: line.quantity for line in lines}
    if reserved != ordered:
        # Inventory reserved something else than was ordered: a bug on one side. Dead-letter it
        # (reason logged); the order stays PENDING, expires, and inventory releases on expiry.
        raise PermanentError(f"stock.reserved lines {reserved} do not match order {ordered}")
    status = leave_pending(session, order.id, Trigger.STOCK_RESERVED, now)
    if status is None:
        return _stale(session, order.id, event, now)  # the expiry won a moment ago
    reserved_text = ", ".join(f"{sku} x{qty}" for sku, qty in reserved.items())
    confirmed = OrderConfirmed(
        order_id=order.id,
        customer_email=order.customer_email,
        lines=lines,
        total=order.total,
        currency=order.currency,
    )
    _decided(session, order.id, now, status, f"stock reserved: {reserved_text}", event, confirmed)
    return Outcome.CONFIRMED


def _reject(
    session: Session, order: _Order, event: Envelope[StockRejected], now: datetime
) -> Outcome:
    status = leave_pending(session, order.id, Trigger.STOCK_REJECTED, now)
    if status is None:
        return _stale(session, order.id, event, now)
    shortages = event.data.shortages
    reason = "out of stock: " + ", ".join(
        f"{s.sku} (requested {s.requested}, available {s.available})" for s in shortages
    )
    rejected = OrderRejected(
        order_id=order.id,
        customer_email=order.customer_email,
        reason=reason[:500],
        short_skus=tuple(dict.fromkeys(s.sku for s in shortages)),
    )
    _decided(session, order.id, now, status, f"stock rejected, {reason}", event, rejected)
    return Outcome.REJECTED


def _decided(
    session: Session,
    order_id: str,
    now: datetime,
    status: OrderStatus,
    answer: str,
    cause: Envelope[Any],
    outgoing: EventData,
) -> None:
    """The timeline of a decision (inventory's answer, then the new status) and its event."""
    steps = [(answer, cause.id), (f"order {status.lower()}", None)]
    notes(session, order_id, at=now, status=status, steps=steps)
    envelope = Envelope.wrap(outgoing, correlation_id=cause.correlationid)
    add_event(session, OutboxMessage, envelope, aggregate_id=order_id)


def _note(session: Session, order: _Order, event: Envelope[Any], now: datetime) -> Outcome:
    what = event.data.timeline_note()
    if not what:
        raise PermanentError(f"{event.type} says nothing for an order's timeline")
    note(session, order.id, at=now, status=order.status, what=what, event_id=event.id)
    updated = OrderUpdated(order_id=order.id, step=what[:500])
    add_event(
        session,
        OutboxMessage,
        Envelope.wrap(updated, correlation_id=event.correlationid),
        aggregate_id=order.id,
    )
    return Outcome.RECORDED
