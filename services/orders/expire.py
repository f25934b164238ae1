"""The timeout: orders still PENDING too long after they were placed expire.

Each order expires in its own short transaction (status, timeline, `order.expired` outbox row),
through the same conditional UPDATE as a confirm or reject, so when a late `stock.reserved` and
the expiry meet, exactly one of them wins (docs/orders.md, "The timeout, and the race with a
late reservation").
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.common.db import Database
from services.common.events import Envelope, OrderExpired
from services.common.outbox import add_event
from services.common.topology import ORDER_PLACED
from services.orders.lifecycle import Trigger, leave_pending, note
from services.orders.models import Order, OutboxMessage
from services.orders.status import OrderStatus

log = logging.getLogger("shopflow.orders.expiry")

BATCH = 200


def expire_pending_orders(
    db: Database, pending_timeout: timedelta, *, now: datetime | None = None
) -> int:
    """Expire every order PENDING since before `now - pending_timeout`. Returns how many."""
    cutoff = (now or datetime.now(UTC)) - pending_timeout
    timeout_seconds = pending_timeout.total_seconds()
    expired = 0
    while True:
        with db.transaction() as session:
            due = list(
                session.scalars(
                    select(Order.id)
                    .where(Order.status == OrderStatus.PENDING, Order.created_at < cutoff)
                    .order_by(Order.created_at, Order.id)
                    .limit(BATCH)
                )
            )
        # Every id leaves PENDING below (by us, or by a confirm/reject that got there first), so
        # the next query returns fewer rows and the loop ends.
        expired += sum(expire_order(db, order_id, timeout_seconds) for order_id in due)
        if len(due) < BATCH:
            return expired


def expire_order(db: Database, order_id: str, timeout_seconds: float) -> bool:
    """Expire one order if it is still PENDING; False if something else decided it first."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        status = leave_pending(session, order_id, Trigger.TIMEOUT, now)
        if status is None:
            log.info("order %s left PENDING before it could expire; not expired", order_id)
            return False
        email = session.scalar(select(Order.customer_email).where(Order.id == order_id))
        assert email is not None
        correlation_id = session.scalar(
            select(OutboxMessage.correlation_id).where(
                OutboxMessage.aggregate_id == order_id, OutboxMessage.event_type == ORDER_PLACED
            )
        )
        note(
            session,
            order_id,
            at=now,
            status=status,
            what=f"order expired: no answer from inventory within {timeout_seconds:g} s",
        )
        add_event(
            session,
            OutboxMessage,
            Envelope.wrap(
                OrderExpired(order_id=order_id, customer_email=email),
                correlation_id=correlation_id,
            ),
            aggregate_id=order_id,
        )
    log.warning("order %s expired (PENDING for over %g s)", order_id, timeout_seconds)
    return True
