"""Concurrency of the lifecycle handlers on SQLite and PostgreSQL: two workers with the same
event, and a confirm racing the expiry; and two requests placing with one Idempotency-Key.
Exactly one wins; nothing is written twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.common.db import Database
from services.common.topology import ORDER_CONFIRMED, ORDER_EXPIRED, ORDER_PLACED
from services.orders.commands import PlaceOrder, RequestedLine
from services.orders.decide import Outcome, confirm_order, reject_order
from services.orders.expire import expire_pending_orders
from services.orders.models import Order, OrderHistory
from services.orders.place import Placement, place_order
from services.orders.read import get_order
from services.orders.status import OrderStatus
from tests.support.orders import events_of, place, race, stock_rejected, stock_reserved

TIMEOUT = timedelta(seconds=300)


def history_rows(db: Database, order_id: str) -> int:
    with db.transaction() as session:
        count = select(func.count()).where(OrderHistory.order_id == order_id)
        return session.scalar(count) or 0


def test_the_same_event_at_two_workers_at_once_is_handled_once(db: Database) -> None:
    orders = [place(db) for _ in range(8)]
    for order in orders:
        event = stock_reserved(order)
        outcomes = race(*[lambda e=event: confirm_order(e, db) for _ in range(3)])
        assert sorted(map(str, outcomes)) == sorted(
            [Outcome.CONFIRMED, Outcome.DUPLICATE, Outcome.DUPLICATE]
        )
        assert events_of(db, order.id) == [ORDER_PLACED, ORDER_CONFIRMED]
        assert history_rows(db, order.id) == 3  # accepted, stock reserved, confirmed


def test_confirm_and_reject_at_once_exactly_one_wins(db: Database) -> None:
    order = place(db)
    outcomes = race(
        lambda: confirm_order(stock_reserved(order), db),
        lambda: reject_order(stock_rejected(order), db),
    )
    assert sorted(map(str, outcomes)) in (
        sorted([Outcome.CONFIRMED, Outcome.STALE]),
        sorted([Outcome.REJECTED, Outcome.STALE]),
    )
    assert len(events_of(db, order.id)) == 2


def test_confirm_racing_the_expiry_exactly_one_wins_per_order(db: Database) -> None:
    orders = [place(db) for _ in range(20)]
    later = datetime.now(UTC) + timedelta(seconds=301)
    events = {o.id: stock_reserved(o) for o in orders}

    def confirm_all() -> list[Outcome]:
        return [confirm_order(events[o.id], db) for o in reversed(orders)]

    confirmed, expired = race(confirm_all, lambda: expire_pending_orders(db, TIMEOUT, now=later))

    assert isinstance(confirmed, list)
    assert isinstance(expired, int)
    assert confirmed.count(Outcome.CONFIRMED) + expired == len(orders)
    assert confirmed.count(Outcome.STALE) == expired
    for order in orders:
        status = get_order(order.id, db).status
        assert status in (OrderStatus.CONFIRMED, OrderStatus.EXPIRED)
        won = ORDER_CONFIRMED if status is OrderStatus.CONFIRMED else ORDER_EXPIRED
        assert events_of(db, order.id) == [ORDER_PLACED, won]


def test_two_requests_with_one_idempotency_key_place_one_order(db: Database) -> None:
    # On PostgreSQL the loser meets the winner's key row and is answered as a replay; on SQLite
    # `BEGIN IMMEDIATE` makes it find the key when it reads.
    for attempt in range(5):
        command = PlaceOrder(
            customer_email="ada@example.com",
            lines=(RequestedLine("MUG-BLUE", 1),),
            currency="EUR",
            idempotency_key=f"twin-{attempt}",
        )
        placements = race(*[lambda c=command: place_order(c, db) for _ in range(3)])
        done = [p for p in placements if isinstance(p, Placement)]
        assert len(done) == 3
        assert sorted(p.created for p in done) == [False, False, True]
        [order_id] = {p.order.id for p in done}
        assert events_of(db, order_id) == [ORDER_PLACED]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 5
