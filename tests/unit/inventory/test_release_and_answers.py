"""The inventory side of the order lifecycle: every decision commits its `stock.*` answer to the
outbox, and `order.expired` gives reserved stock back exactly once."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from services.common.db import Database
from services.common.events import Envelope, OrderExpired, parse_event
from services.inventory.models import OutboxMessage, OutcomeStatus
from services.inventory.release import Released, release_stock
from services.inventory.reserve import reserve_stock
from tests.support.factories import order_placed_event
from tests.support.inventory import outcome, reserved


def _outbox(db: Database) -> list[Envelope[Any]]:
    with db.transaction() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [parse_event(json.loads(row.payload)) for row in rows]


def _expired(order_id: str) -> Envelope[OrderExpired]:
    return Envelope.wrap(OrderExpired(order_id=order_id, customer_email="ada@example.com"))


def test_a_reservation_commits_stock_reserved_with_the_correlation_id(db: Database) -> None:
    event = order_placed_event(lines=[("MUG-BLUE", 2, "8.50")])
    reserve_stock(event, db)
    [answer] = _outbox(db)
    assert answer.type == "stock.reserved"
    assert answer.correlationid == event.correlationid
    assert answer.data.order_id == event.data.order_id
    assert [(line.sku, line.quantity) for line in answer.data.lines] == [("MUG-BLUE", 2)]


def test_a_rejection_commits_stock_rejected_naming_the_short_skus(db: Database) -> None:
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50"), ("POSTER-A2", 1, "12.00")])
    reserve_stock(event, db)
    [answer] = _outbox(db)
    assert answer.type == "stock.rejected"
    assert [(s.sku, s.requested, s.available) for s in answer.data.shortages] == [
        ("POSTER-A2", 1, 0)
    ]


def test_a_duplicate_commits_no_second_answer(db: Database) -> None:
    event = order_placed_event()
    reserve_stock(event, db)
    reserve_stock(event, db)
    assert len(_outbox(db)) == 1


def test_expiry_gives_reserved_stock_back_once(db: Database) -> None:
    placed = order_placed_event(lines=[("MUG-BLUE", 3, "8.50")])
    reserve_stock(placed, db)
    assert reserved(db)["MUG-BLUE"] == 3
    expired = _expired(placed.data.order_id)

    assert release_stock(expired, db) is Released.RELEASED
    assert release_stock(expired, db) is Released.DUPLICATE
    assert release_stock(_expired(placed.data.order_id), db) is Released.NOTHING  # new event id
    assert reserved(db)["MUG-BLUE"] == 0
    decided = outcome(db, placed.data.order_id)
    assert decided is not None
    assert decided.status == OutcomeStatus.RELEASED
    answers = _outbox(db)
    assert [a.type for a in answers] == ["stock.reserved", "stock.released"]
    assert [(ln.sku, ln.quantity) for ln in answers[1].data.lines] == [("MUG-BLUE", 3)]


def test_expiry_before_the_placement_blocks_a_late_reservation(db: Database) -> None:
    placed = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    assert release_stock(_expired(placed.data.order_id), db) is Released.PRE_EMPTED
    reserve_stock(placed, db)  # arrives late
    assert reserved(db)["MUG-BLUE"] == 0
    answers = _outbox(db)
    assert [a.type for a in answers] == ["stock.released"]
    assert answers[0].data.lines == ()


def test_expiry_of_a_rejected_order_gives_nothing_back(db: Database) -> None:
    placed = order_placed_event(lines=[("POSTER-A2", 1, "12.00")])
    reserve_stock(placed, db)
    before = reserved(db)
    assert release_stock(_expired(placed.data.order_id), db) is Released.NOTHING
    assert reserved(db) == before
    assert [a.type for a in _outbox(db)] == ["stock.rejected"]
