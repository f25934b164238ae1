"""The lifecycle's table and the typed status column (services/orders/lifecycle.py, models.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import StatementError

from services.common.db import Database
from services.orders.lifecycle import TRANSITIONS, Trigger, leave_pending
from services.orders.models import Order
from services.orders.read import get_order
from services.orders.status import OrderStatus
from tests.support.orders import place

FINAL = [status for status in OrderStatus if status is not OrderStatus.PENDING]


def _raw_status(db: Database, order_id: str) -> str:
    with db.transaction() as session:
        stored = session.execute(
            text("SELECT status FROM orders WHERE id = :id"), {"id": order_id}
        ).scalar_one()
    return str(stored)


@pytest.mark.parametrize("trigger", list(Trigger))
def test_each_trigger_moves_a_pending_order_where_the_table_says(
    db: Database, trigger: Trigger
) -> None:
    order = place(db)
    with db.transaction() as session:
        moved = leave_pending(session, order.id, trigger, datetime.now(UTC))
    assert moved is TRANSITIONS[trigger]
    assert get_order(order.id, db).status is TRANSITIONS[trigger]
    assert _raw_status(db, order.id) == TRANSITIONS[trigger].value


@pytest.mark.parametrize("final", FINAL)
def test_no_trigger_moves_a_final_order(db: Database, final: OrderStatus) -> None:
    order = place(db)
    with db.transaction() as session:
        session.execute(update(Order).where(Order.id == order.id).values(status=final))
    for trigger in Trigger:
        with db.transaction() as session:
            assert leave_pending(session, order.id, trigger, datetime.now(UTC)) is None
    assert get_order(order.id, db).status is final


def test_a_status_written_as_plain_text_reads_back_typed(db: Database) -> None:
    """Databases made before the column was typed hold the same VARCHAR values."""
    order = place(db)
    with db.transaction() as session:
        session.execute(
            text("UPDATE orders SET status = 'REJECTED' WHERE id = :id"), {"id": order.id}
        )
    with db.transaction() as session:
        row = session.get_one(Order, order.id)
        assert row.status is OrderStatus.REJECTED
        assert [step.status for step in row.history] == [OrderStatus.PENDING]
        assert type(row.history[0].status) is OrderStatus


def test_a_status_outside_the_lifecycle_is_refused(db: Database) -> None:
    order = place(db)
    with pytest.raises(StatementError), db.transaction() as session:
        session.execute(update(Order).where(Order.id == order.id).values(status="SHIPPED"))
    assert _raw_status(db, order.id) == "PENDING"
