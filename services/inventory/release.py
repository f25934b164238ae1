"""Giving stock back when an order expires: `release_stock`, exactly once.

The orders service expires an order nobody answered in time and publishes `order.expired`.
Inventory consumes it from the same queue as `order.placed` (so, normally, in order) and, in ONE
transaction with its inbox insert:

- the order was RESERVED: every reserved quantity goes back (`stock.reserved -= quantity`), the
  outcome becomes RELEASED, and `stock.released` (with the lines) goes to the outbox;
- nothing was decided yet (the expiry overtook the `order.placed`, e.g. after a redelivery): a
  RELEASED outcome is recorded first, so the late `order.placed` finds the order decided and
  reserves nothing; `stock.released` (no lines) is published so the timeline says so;
- REJECTED or already RELEASED: nothing to give back, nothing published.

This is how the race between a late reservation and the expiry resolves: whichever of the two
commits second sees the other's outcome row (see docs/orders.md, "the expiry and its race").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.events import Envelope, OrderExpired, ReservedLine, StockReleased
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

log = logging.getLogger("shopflow.inventory.release")


class Released(StrEnum):
    RELEASED = "reserved stock given back"
    PRE_EMPTED = "nothing reserved yet; the order can no longer reserve"
    NOTHING = "nothing to give back"
    DUPLICATE = "duplicate event, nothing changed"


def release_stock(event: Envelope[OrderExpired], db: Database) -> Released:
    order_id = event.data.order_id
    with db.transaction() as session:
        if not first_delivery(session, ProcessedEvent, event):
            result = Released.DUPLICATE
        else:
            result, lines = _release(session, event)
            if result in (Released.RELEASED, Released.PRE_EMPTED):
                answer = StockReleased(order_id=order_id, lines=lines)
                add_event(
                    session,
                    OutboxMessage,
                    Envelope.wrap(answer, correlation_id=event.correlationid),
                    aggregate_id=order_id,
                )
    log.info("%s for order %s: %s", event.describe(), order_id, result.value)
    return result


def _release(
    session: Session, event: Envelope[OrderExpired]
) -> tuple[Released, tuple[ReservedLine, ...]]:
    """Give back what the order holds, or pre-empt a reservation that has not happened yet."""
    outcome = session.get(ReservationOutcome, event.data.order_id, with_for_update=True)
    if outcome is None:
        session.add(
            ReservationOutcome(
                order_id=event.data.order_id,
                status=OutcomeStatus.RELEASED,
                event_id=event.id,
                correlation_id=event.correlationid,
                detail={"note": "order expired before any reservation"},
                decided_at=datetime.now(UTC),
            )
        )
        session.flush()
        return Released.PRE_EMPTED, ()
    if outcome.status != OutcomeStatus.RESERVED:
        return Released.NOTHING, ()
    reservations = _give_back(session, outcome.order_id)
    outcome.status = OutcomeStatus.RELEASED
    outcome.detail = {"released": [{"sku": r.sku, "quantity": r.quantity} for r in reservations]}
    return Released.RELEASED, tuple(
        ReservedLine(sku=r.sku, quantity=r.quantity) for r in reservations
    )


def _give_back(session: Session, order_id: str) -> Sequence[Reservation]:
    """Return every reserved quantity of the order to the shelf (stock rows locked, SKU order)."""
    reservations = session.scalars(
        select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.sku)
    ).all()
    stock = {
        row.sku: row
        for row in session.scalars(
            select(Stock)
            .where(Stock.sku.in_([r.sku for r in reservations]))
            .order_by(Stock.sku)
            .with_for_update()
        )
    }
    for reservation in reservations:
        stock[reservation.sku].reserved -= reservation.quantity
    return reservations
