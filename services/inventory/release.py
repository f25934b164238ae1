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
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from services.common.db import Database
from services.common.events import Envelope, OrderExpired, ReservedLine, StockReleased
from services.common.inbox import first_delivery
from services.common.outbox import add_event
from services.inventory.handlers import INBOX_CONSUMER
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
        if not first_delivery(session, ProcessedEvent, INBOX_CONSUMER, event.id, event.type):
            result = Released.DUPLICATE
        else:
            outcome = session.get(ReservationOutcome, order_id, with_for_update=True)
            lines: tuple[ReservedLine, ...] = ()
            if outcome is None:
                session.add(
                    ReservationOutcome(
                        order_id=order_id,
                        status=OutcomeStatus.RELEASED,
                        event_id=event.id,
                        correlation_id=event.correlationid,
                        detail={"note": "order expired before any reservation"},
                        decided_at=datetime.now(UTC),
                    )
                )
                session.flush()
                result = Released.PRE_EMPTED
            elif outcome.status == OutcomeStatus.RESERVED:
                reservations = session.scalars(
                    select(Reservation)
                    .where(Reservation.order_id == order_id)
                    .order_by(Reservation.sku)
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
                lines = tuple(ReservedLine(sku=r.sku, quantity=r.quantity) for r in reservations)
                outcome.status = OutcomeStatus.RELEASED
                outcome.detail = {
                    "released": [{"sku": r.sku, "quantity": r.quantity} for r in reservations]
                }
                result = Released.RELEASED
            else:
                result = Released.NOTHING
            if result in (Released.RELEASED, Released.PRE_EMPTED):
                answer = StockReleased(order_id=order_id, lines=lines)
                add_event(
                    session,
                    OutboxMessage,
                    Envelope.wrap(answer, correlation_id=event.correlationid),
                    aggregate_id=order_id,
                )
    log.info(
        "%s %s for order %s correlation=%s: %s",
        event.type,
        event.id,
        order_id,
        event.correlationid,
        result.value,
    )
    return result
