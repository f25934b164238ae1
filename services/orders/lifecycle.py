"""An order's lifecycle: its states, what moves it, and how a move is decided.

    PENDING --stock.reserved--> CONFIRMED
    PENDING --stock.rejected--> REJECTED
    PENDING --timeout---------> EXPIRED

Only PENDING has moves: CONFIRMED, REJECTED and EXPIRED are final. Placing an order starts it
PENDING (place.py); inventory's answers (decide.py) and the timeout (expire.py) move it on, always
through `leave_pending`, and nothing else in the service changes a status.

Races. Every move is one conditional `UPDATE orders SET status=... WHERE id=... AND
status='PENDING'`. Whoever's UPDATE changes the row wins; anyone else (a late `stock.reserved`
after the expiry, the expiry after a confirm) changes nothing and is told the status that won. On
PostgreSQL the second UPDATE waits for the first transaction's row lock and then re-checks the
WHERE clause; on SQLite writers are serialized by `BEGIN IMMEDIATE`. So exactly one outcome per
order, on both, and only the winner writes an outbox row.

Stale events. An answer that finds its order no longer PENDING changes no status and publishes
nothing: it is written into the order's timeline (`record_stale`), and the caller logs it and
acks it, because retrying could never make it applicable.

The timeline. Every step that concerns the status is one `order_history` row (`note`): when, what
happened, the status after it, and the id of the event that caused it, if any. The row's id is
the step's position, which the live page resumes from (docs/storefront.md); so for one order,
ids must grow in commit order, and `note` takes the order's row lock first.

The functions are table statements, not ORM objects and flushes, each built once and executed
with parameters: the orders worker runs them for every answer (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from services.common import topology
from services.common.db import table_of
from services.common.events import Envelope
from services.orders.models import Order, OrderHistory
from services.orders.status import OrderStatus


class Trigger(StrEnum):
    """What may move an order out of PENDING: one of inventory's answers, or the timeout."""

    STOCK_RESERVED = topology.STOCK_RESERVED
    STOCK_REJECTED = topology.STOCK_REJECTED
    TIMEOUT = "timeout"


TRANSITIONS: Final[Mapping[Trigger, OrderStatus]] = MappingProxyType(
    {
        Trigger.STOCK_RESERVED: OrderStatus.CONFIRMED,
        Trigger.STOCK_REJECTED: OrderStatus.REJECTED,
        Trigger.TIMEOUT: OrderStatus.EXPIRED,
    }
)
"""Where each trigger moves a PENDING order. Every other status is final."""


_ORDERS = table_of(Order)
_LEAVE_PENDING = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("order_id"), _ORDERS.c.status == OrderStatus.PENDING)
    .values(status=bindparam("to"), updated_at=bindparam("at"))
)
_STATUS = select(_ORDERS.c.status).where(_ORDERS.c.id == bindparam("order_id"))
_LOCK_ORDER = select(_ORDERS.c.id).where(_ORDERS.c.id == bindparam("order_id")).with_for_update()
_ADD_STEP = insert(table_of(OrderHistory))


def leave_pending(
    session: Session, order_id: str, trigger: Trigger, at: datetime
) -> OrderStatus | None:
    """Move the order out of PENDING as `trigger` says: the status it now has, or None if it had
    already left PENDING (someone else decided first, and nothing was changed)."""
    to = TRANSITIONS[trigger]
    moved = session.execute(_LEAVE_PENDING, {"order_id": order_id, "to": to, "at": at})
    return to if moved.rowcount == 1 else None  # type: ignore[attr-defined]


def current_status(session: Session, order_id: str) -> OrderStatus | None:
    status: OrderStatus | None = session.scalar(_STATUS, {"order_id": order_id})
    return status


def record_stale(session: Session, order_id: str, cause: Envelope[Any], at: datetime) -> None:
    """The stale-event rule: `cause` came for an order that has left PENDING; the timeline says
    it was ignored, and the status stays."""
    status = current_status(session, order_id)
    assert status is not None  # the order row exists; orders are never deleted
    note(
        session,
        order_id,
        at=at,
        status=status,
        what=f"stale {cause.type} ignored: the order is already {status}",
        event_id=cause.id,
    )


def note(
    session: Session,
    order_id: str,
    *,
    at: datetime,
    status: OrderStatus,
    what: str,
    event_id: str | None = None,
) -> None:
    """Add one step to the order's timeline; `status` is the order's status after it."""
    notes(session, order_id, at=at, status=status, steps=[(what, event_id)])


def notes(
    session: Session,
    order_id: str,
    *,
    at: datetime,
    status: OrderStatus,
    steps: Sequence[tuple[str, str | None]],
) -> None:
    """Add steps (what happened, the id of the event that caused it) to the order's timeline, in
    this order; `status` is the order's status after them.

    The order's row lock (held until commit; a no-op on SQLite, whose writers are serialized
    anyway) makes one order's steps commit one after the other. On PostgreSQL ids come from a
    sequence at INSERT time: without the lock, two steps written at once (a stale answer and a
    release) could commit in the other order than their ids, and a reader resuming after the
    larger id would never see the smaller one.
    """
    session.execute(_LOCK_ORDER, {"order_id": order_id})
    session.execute(
        _ADD_STEP,
        [
            {"order_id": order_id, "at": at, "status": status, "note": what[:500], "event_id": e}
            for what, e in steps
        ],
    )
