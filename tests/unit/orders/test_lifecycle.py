"""confirm_order / reject_order / note_on_timeline on a real SQLite database."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.common.db import Database
from services.common.events import OrderConfirmed, OrderRejected, parse_event
from services.common.topology import ORDER_CONFIRMED, ORDER_PLACED, ORDER_REJECTED, ORDER_UPDATED
from services.common.worker.errors import PermanentError
from services.orders.decide import Outcome, confirm_order, note_on_timeline, reject_order
from services.orders.expire import expire_order
from services.orders.models import ProcessedEvent
from services.orders.read import get_order
from services.orders.status import OrderStatus
from tests.support.orders import (
    events_of,
    outbox_rows,
    place,
    stock_rejected,
    stock_released,
    stock_reserved,
)


def inbox_size(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0


def test_stock_reserved_confirms_and_records_order_confirmed(db: Database) -> None:
    order = place(db)
    event = stock_reserved(order)

    assert confirm_order(event, db) is Outcome.CONFIRMED

    view = get_order(order.id, db)
    assert view.status is OrderStatus.CONFIRMED
    steps = [(e.what, e.status, e.event_id) for e in view.timeline if e.status is not None]
    assert steps == [
        ("order accepted", OrderStatus.PENDING, None),
        ("stock reserved: MUG-BLUE x2, TEE-M x1", OrderStatus.CONFIRMED, event.id),
        ("order confirmed", OrderStatus.CONFIRMED, None),
    ]
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)
    assert view.updated_at > view.created_at
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]
    row = outbox_rows(db)[-1]
    assert row.correlation_id == event.correlationid
    confirmed = parse_event(row.payload).data
    assert isinstance(confirmed, OrderConfirmed)
    assert str(confirmed.customer_email) == "ada@example.com"
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in confirmed.lines] == [
        ("MUG-BLUE", 2, Decimal("8.50")),
        ("TEE-M", 1, Decimal("19.90")),
    ]
    assert (confirmed.total, confirmed.currency) == (Decimal("36.90"), "EUR")


def test_stock_rejected_rejects_naming_the_short_skus(db: Database) -> None:
    order = place(db)
    event = stock_rejected(order, "TEE-M")

    assert reject_order(event, db) is Outcome.REJECTED

    view = get_order(order.id, db)
    assert view.status is OrderStatus.REJECTED
    whats = [e.what for e in view.timeline if e.status is OrderStatus.REJECTED]
    assert whats == [
        "stock rejected, out of stock: TEE-M (requested 1, available 0)",
        "order rejected",
    ]
    rejected = parse_event(outbox_rows(db)[-1].payload).data
    assert isinstance(rejected, OrderRejected)
    assert rejected.short_skus == ("TEE-M",)
    assert "TEE-M" in rejected.reason
    assert str(rejected.customer_email) == "ada@example.com"
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_REJECTED]


@pytest.mark.parametrize("answer", ["reserved", "rejected"])
def test_a_duplicate_event_changes_nothing(db: Database, answer: str) -> None:
    order = place(db)

    def handle() -> Outcome:
        if answer == "reserved":
            return confirm_order(reserved, db)
        return reject_order(rejected, db)

    reserved, rejected = stock_reserved(order), stock_rejected(order)
    first = handle()
    before = get_order(order.id, db)
    rows = len(outbox_rows(db))

    assert handle() is Outcome.DUPLICATE

    assert first in (Outcome.CONFIRMED, Outcome.REJECTED)
    assert get_order(order.id, db) == before
    assert len(outbox_rows(db)) == rows
    assert inbox_size(db) == 1


def test_reserved_after_the_expiry_is_stale_and_only_noted(db: Database) -> None:
    order = place(db)
    assert expire_order(db, order.id, 300)
    late = stock_reserved(order)

    assert confirm_order(late, db) is Outcome.STALE

    view = get_order(order.id, db)
    assert view.status is OrderStatus.EXPIRED
    entries = [e for e in view.timeline if e.event_id == late.id]
    assert [(e.what, e.status) for e in entries] == [
        ("stale stock.reserved ignored: the order is already EXPIRED", OrderStatus.EXPIRED)
    ]
    assert ORDER_CONFIRMED not in events_of(db, order.id)
    # ...and its duplicate adds no second timeline entry.
    assert confirm_order(late, db) is Outcome.DUPLICATE
    assert len(get_order(order.id, db).timeline) == len(view.timeline)


def test_rejected_after_a_confirm_is_stale(db: Database) -> None:
    order = place(db)
    confirm_order(stock_reserved(order), db)

    assert reject_order(stock_rejected(order), db) is Outcome.STALE
    assert get_order(order.id, db).status is OrderStatus.CONFIRMED
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]


def test_a_second_reservation_with_a_new_id_is_stale(db: Database) -> None:
    order = place(db)
    confirm_order(stock_reserved(order), db)

    assert confirm_order(stock_reserved(order), db) is Outcome.STALE
    assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]


def test_an_unknown_order_changes_nothing(db: Database) -> None:
    ghost = place(db).model_copy(update={"id": "no-such-order"})
    rows = len(outbox_rows(db))

    assert confirm_order(stock_reserved(ghost), db) is Outcome.UNKNOWN_ORDER
    assert reject_order(stock_rejected(ghost), db) is Outcome.UNKNOWN_ORDER
    assert len(outbox_rows(db)) == rows


def test_stock_released_is_recorded_without_a_status_change(db: Database) -> None:
    order = place(db)
    expire_order(db, order.id, 300)
    event = stock_released(order)

    assert note_on_timeline(event, db) is Outcome.RECORDED

    view = get_order(order.id, db)
    assert view.status is OrderStatus.EXPIRED
    assert [(e.what, e.status) for e in view.timeline if e.event_id == event.id] == [
        ("stock released: MUG-BLUE x2, TEE-M x1", OrderStatus.EXPIRED)
    ]
    # the live pages learn of the new step from orders' own event, published after its commit
    [updated] = [row for row in outbox_rows(db) if row.event_type == ORDER_UPDATED]
    assert json.loads(updated.payload)["data"] == {
        "order_id": order.id,
        "step": "stock released: MUG-BLUE x2, TEE-M x1",
    }
    assert note_on_timeline(event, db) is Outcome.DUPLICATE
    assert events_of(db, order.id).count(ORDER_UPDATED) == 1


def test_a_reservation_that_does_not_match_the_order_dead_letters_and_writes_nothing(
    db: Database,
) -> None:
    order = place(db)
    event = stock_reserved(order)
    wrong = event.model_copy(
        update={"data": event.data.model_copy(update={"lines": event.data.lines[:1]})}
    )

    with pytest.raises(PermanentError, match="do not match"):
        confirm_order(wrong, db)

    assert get_order(order.id, db).status is OrderStatus.PENDING
    assert inbox_size(db) == 0
    assert events_of(db, order.id) == [ORDER_PLACED]


def test_the_confirmed_payload_is_valid_json_for_other_consumers(db: Database) -> None:
    order = place(db)
    confirm_order(stock_reserved(order), db)
    body = json.loads(outbox_rows(db)[-1].payload)
    assert body["type"] == ORDER_CONFIRMED
    assert body["data"]["total"] == "36.90"
