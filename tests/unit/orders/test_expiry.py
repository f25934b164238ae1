"""The timeout job, and the race between a late confirm and the expiry (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.common.db import Database
from services.common.events import OrderExpired, parse_event
from services.common.topology import ORDER_CONFIRMED, ORDER_EXPIRED, ORDER_PLACED
from services.orders import expire
from services.orders.decide import Outcome, confirm_order
from services.orders.expire import expire_pending_orders
from services.orders.read import get_order
from services.orders.status import OrderStatus
from tests.support.orders import events_of, outbox_rows, place, race, stock_reserved

TIMEOUT = timedelta(seconds=300)

LATER = timedelta(seconds=301)


def test_only_orders_pending_past_the_timeout_expire(db: Database) -> None:
    old = place(db)
    confirmed = place(db)
    confirm_order(stock_reserved(confirmed), db)
    young = place(db)
    now = young.created_at + timedelta(seconds=300)  # young is exactly at the limit: not yet

    assert expire_pending_orders(db, TIMEOUT, now=now) == 1

    assert get_order(old.id, db).status is OrderStatus.EXPIRED
    assert get_order(confirmed.id, db).status is OrderStatus.CONFIRMED
    assert get_order(young.id, db).status is OrderStatus.PENDING
    assert events_of(db, old.id) == [ORDER_PLACED, ORDER_EXPIRED]
    step = [e for e in get_order(old.id, db).timeline if e.status is OrderStatus.EXPIRED]
    assert [e.what for e in step] == ["order expired: no answer from inventory within 300 s"]
    # A second run finds nothing.
    assert expire_pending_orders(db, TIMEOUT, now=now) == 0


def test_order_expired_carries_the_email_and_the_placed_correlation_id(db: Database) -> None:
    order = place(db, email="grace@example.org")
    expire_pending_orders(db, TIMEOUT, now=datetime.now(UTC) + LATER)

    placed, expired = [r for r in outbox_rows(db) if r.aggregate_id == order.id]
    event = parse_event(expired.payload)
    assert isinstance(event.data, OrderExpired)
    assert str(event.data.customer_email) == "grace@example.org"
    assert event.correlationid == placed.correlation_id


def test_more_orders_than_one_batch_all_expire(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(expire, "BATCH", 2)
    orders = [place(db) for _ in range(5)]

    assert expire_pending_orders(db, TIMEOUT, now=datetime.now(UTC) + LATER) == 5
    assert {get_order(o.id, db).status for o in orders} == {OrderStatus.EXPIRED}


def test_confirm_and_expiry_racing_exactly_one_wins(db: Database) -> None:
    orders = [place(db) for _ in range(10)]
    later = datetime.now(UTC) + LATER
    events = {o.id: stock_reserved(o) for o in orders}

    def confirm_all() -> list[Outcome]:
        return [confirm_order(events[o.id], db) for o in orders]

    confirmed, expired = race(confirm_all, lambda: expire_pending_orders(db, TIMEOUT, now=later))

    assert isinstance(confirmed, list)
    assert confirmed.count(Outcome.CONFIRMED) + int(str(expired)) == len(orders)
    for order in orders:
        status = get_order(order.id, db).status
        decided = events_of(db, order.id)[1:]
        assert decided == (
            [ORDER_CONFIRMED] if status is OrderStatus.CONFIRMED else [ORDER_EXPIRED]
        )
