"""Moving an order out of PENDING, and writing what happened into its timeline.

Every move is a conditional `UPDATE orders SET status=... WHERE id=... AND status='PENDING'`.
Whoever's UPDATE changes the row wins; anyone else (a late `stock.reserved` after the expiry, the
expiry after a confirm) changes nothing and is told the status that won. On PostgreSQL the second
UPDATE waits for the first transaction's row lock and then re-checks the WHERE clause; on SQLite
writers are serialized by `BEGIN IMMEDIATE`. So exactly one outcome per order, on both.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.orders.models import Order, OrderHistory, OrderStatus


class Outcome(StrEnum):
    """What handling one event (or one expiry) did."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    RECORDED = "recorded"  # written to the timeline, status unchanged (stock.released)
    STALE = "stale"  # the order had already left PENDING: timeline entry only
    UNKNOWN_ORDER = "unknown order"  # no such order: logged only
    DUPLICATE = "duplicate"  # already processed: nothing at all


def leave_pending(session: Session, order_id: str, to: OrderStatus, at: datetime) -> bool:
    """True if this transaction moved the order from PENDING to `to`."""
    moved = session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.PENDING)
        .values(status=to, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


def current_status(session: Session, order_id: str) -> OrderStatus | None:
    status = session.scalar(select(Order.status).where(Order.id == order_id))
    return OrderStatus(status) if status is not None else None


def note(
    session: Session,
    order_id: str,
    *,
    at: datetime,
    status: OrderStatus,
    what: str,
    event_id: str | None = None,
) -> None:
    session.add(
        OrderHistory(order_id=order_id, at=at, status=status, note=what[:500], event_id=event_id)
    )
