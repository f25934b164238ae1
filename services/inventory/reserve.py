"""Reserving stock for a placed order: all or nothing, exactly once.

`reserve_stock` runs ONE transaction that holds:

1. the inbox insert `processed_events(consumer, event_id)`: if the event was processed before
   (a redelivery, a duplicate publish, a second worker that got the same event at the same time)
   the insert finds the row, and the transaction changes nothing else;
2. the decision for the order, written to `reservation_outcomes` (primary key `order_id`, so a
   second `order.placed` for the same order with a *different* event id is a no-op too);
3. if every line is available: `stock.reserved += quantity` for each SKU and one `reservations`
   row per SKU; otherwise nothing is reserved and the outcome is REJECTED with the shortages;
4. the answer for the orders service, `stock.reserved` or `stock.rejected`, as an outbox row
   (the inventory relay publishes it, woken once the transaction commits).

Insufficient stock is an answer, not an error: it commits and is never retried. Database errors
(locked, unreachable) propagate; the Celery task retries them (services/common/worker/tasks.py).

Concurrency: on SQLite `BEGIN IMMEDIATE` serializes writers; on PostgreSQL the stock rows are
locked `FOR UPDATE` (in SKU order, so two orders cannot deadlock) and the primary keys, inserted
with `ON CONFLICT DO NOTHING`, turn a racing twin into a no-op (see services/common/inbox.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from services.common.db import Database, insert_rows, insert_unless_exists, table_of
from services.common.events import (
    Envelope,
    OrderPlaced,
    ReservedLine,
    Shortage,
    StockRejected,
    StockReserved,
)
from services.common.inbox import first_delivery
from services.common.outbox import add_event
from services.inventory.models import (
    OutboxMessage,
    OutcomeStatus,
    ProcessedEvent,
    Reservation,
    ReservationOutcome,
    Stock,
)

log = logging.getLogger("shopflow.inventory.reserve")


class Result(StrEnum):
    RESERVED = "reserved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate event, nothing changed"
    ALREADY_DECIDED = "order already decided by another event, nothing changed"


@dataclass(frozen=True)
class Shortfall:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class ReservationResult:
    result: Result
    order_id: str
    lines: tuple[tuple[str, int], ...] = ()  # (sku, quantity), what was asked, per SKU
    shortages: tuple[Shortfall, ...] = ()

    def describe(self) -> str:
        if self.result is Result.RESERVED:
            return "reserved " + ", ".join(f"{sku} x{qty}" for sku, qty in self.lines)
        if self.result is Result.REJECTED:
            short = ", ".join(
                f"{s.sku} (requested {s.requested}, available {s.available})"
                for s in self.shortages
            )
            return f"rejected, out of stock: {short}"
        return self.result.value


def requested_quantities(order: OrderPlaced) -> dict[str, int]:
    """Quantity per SKU (an order may list a SKU on several lines)."""
    wanted: Counter[str] = Counter()
    for line in order.lines:
        wanted[line.sku] += line.quantity
    return dict(sorted(wanted.items()))


def reserve_stock(event: Envelope[OrderPlaced], db: Database) -> ReservationResult:
    order = event.data
    wanted = requested_quantities(order)
    with db.transaction() as session:
        if not first_delivery(session, ProcessedEvent, event):
            outcome = ReservationResult(Result.DUPLICATE, order.order_id)
        else:
            outcome = _decide(session, event, wanted)
    log.info("%s for order %s: %s", event.describe(), order.order_id, outcome.describe())
    return outcome


def _decide(
    session: Session, event: Envelope[OrderPlaced], wanted: dict[str, int]
) -> ReservationResult:
    """Read the stock (locked), record the outcome unless the order already has one, apply it.

    Plain table statements, not the ORM's unit of work: this runs once per order and the ORM's
    flushes were most of its cost (docs/benchmarks.md)."""
    order_id = event.data.order_id
    shortages = _shortages(session, wanted)
    if not _record_outcome(session, event, shortages):  # another event decided it first
        return ReservationResult(Result.ALREADY_DECIDED, order_id)
    lines = tuple(wanted.items())
    answer: StockRejected | StockReserved
    if shortages:
        answer = StockRejected(
            order_id=order_id,
            shortages=tuple(
                Shortage(sku=s.sku, requested=s.requested, available=s.available) for s in shortages
            ),
        )
        result = ReservationResult(Result.REJECTED, order_id, lines, shortages)
    else:
        _reserve(session, order_id, lines)
        answer = StockReserved(
            order_id=order_id,
            lines=tuple(ReservedLine(sku=sku, quantity=qty) for sku, qty in lines),
        )
        result = ReservationResult(Result.RESERVED, order_id, lines)
    add_event(
        session,
        OutboxMessage,
        Envelope.wrap(answer, correlation_id=event.correlationid),
        aggregate_id=order_id,
    )
    return result


# Built once (services/common/db.py says why): the stock rows asked for, locked, in SKU order.
_AVAILABLE = (
    select(Stock.sku, Stock.on_hand - Stock.reserved)
    .where(Stock.sku.in_(bindparam("skus", expanding=True)))
    .order_by(Stock.sku)
    .with_for_update()
)
_TAKE = (
    update(table_of(Stock))
    .where(table_of(Stock).c.sku == bindparam("b_sku"))
    .values(reserved=table_of(Stock).c.reserved + bindparam("b_qty"))
)


def _shortages(session: Session, wanted: dict[str, int]) -> tuple[Shortfall, ...]:
    """What cannot be had, reading the stock rows locked (in SKU order: no deadlock)."""
    rows = session.execute(_AVAILABLE, {"skus": list(wanted)})
    available: dict[str, int] = {sku: free for sku, free in rows}
    return tuple(
        Shortfall(sku, qty, available.get(sku, 0))
        for sku, qty in wanted.items()
        if available.get(sku, 0) < qty
    )


def _record_outcome(
    session: Session, event: Envelope[OrderPlaced], shortages: tuple[Shortfall, ...]
) -> bool:
    """The order's one decision; False if it already had one."""
    return insert_unless_exists(
        session,
        ReservationOutcome,
        order_id=event.data.order_id,
        status=OutcomeStatus.REJECTED if shortages else OutcomeStatus.RESERVED,
        event_id=event.id,
        correlation_id=event.correlationid,
        detail={"shortages": [s.__dict__ for s in shortages]} if shortages else {},
        decided_at=datetime.now(UTC),
    )


def _reserve(session: Session, order_id: str, lines: tuple[tuple[str, int], ...]) -> None:
    session.execute(_TAKE, [{"b_sku": sku, "b_qty": qty} for sku, qty in lines])
    insert_rows(
        session, [Reservation(order_id=order_id, sku=sku, quantity=qty) for sku, qty in lines]
    )
