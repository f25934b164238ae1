"""reserve_stock: all or nothing, exactly once, rejections recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.common.db import Database, table_of
from services.inventory.models import OutboxMessage, OutcomeStatus
from services.inventory.reserve import Result, Shortfall, reserve_stock
from services.inventory.stock import stock_levels
from tests.support.factories import order_placed_event
from tests.support.inventory import inbox_count, outcome, reservations_of, reserved


def test_reserves_every_line_with_its_outcome_and_inbox_row(db: Database) -> None:
    event = order_placed_event(lines=[("MUG-BLUE", 2, "8.50"), ("TEE-M", 1, "19.90")])

    result = reserve_stock(event, db)

    assert result.result is Result.RESERVED
    assert result.lines == (("MUG-BLUE", 2), ("TEE-M", 1))
    assert reserved(db) == {"CAP-BLACK": 0, "MUG-BLUE": 2, "POSTER-A2": 0, "TEE-M": 1}
    assert reservations_of(db, event.data.order_id) == {"MUG-BLUE": 2, "TEE-M": 1}
    decided = outcome(db, event.data.order_id)
    assert decided is not None
    assert (decided.status, decided.event_id, decided.correlation_id) == (
        OutcomeStatus.RESERVED,
        event.id,
        event.correlationid,
    )
    assert inbox_count(db, event.id) == 1


def test_the_same_event_again_changes_nothing(db: Database) -> None:
    event = order_placed_event()
    reserve_stock(event, db)
    before = stock_levels(db)

    assert reserve_stock(event, db).result is Result.DUPLICATE
    assert reserve_stock(event, db).result is Result.DUPLICATE
    assert stock_levels(db) == before
    assert inbox_count(db, event.id) == 1


def test_another_event_for_an_already_decided_order_changes_nothing(db: Database) -> None:
    first = order_placed_event(order_id="order-1")
    second = order_placed_event(order_id="order-1")  # republished with a new event id
    reserve_stock(first, db)
    before = stock_levels(db)

    assert reserve_stock(second, db).result is Result.ALREADY_DECIDED
    assert stock_levels(db) == before
    decided = outcome(db, "order-1")
    assert decided is not None
    assert decided.event_id == first.id


def test_one_short_line_reserves_nothing_and_records_the_rejection(db: Database) -> None:
    event = order_placed_event(
        lines=[("MUG-BLUE", 2, "8.50"), ("POSTER-A2", 1, "12.00"), ("CAP-BLACK", 3, "14.00")]
    )

    result = reserve_stock(event, db)

    assert result.result is Result.REJECTED
    assert result.shortages == (
        Shortfall("CAP-BLACK", requested=3, available=1),
        Shortfall("POSTER-A2", requested=1, available=0),
    )
    assert set(reserved(db).values()) == {0}
    assert reservations_of(db, event.data.order_id) == {}
    decided = outcome(db, event.data.order_id)
    assert decided is not None
    assert decided.status == OutcomeStatus.REJECTED
    assert decided.detail == {
        "shortages": [
            {"sku": "CAP-BLACK", "requested": 3, "available": 1},
            {"sku": "POSTER-A2", "requested": 1, "available": 0},
        ]
    }
    assert "CAP-BLACK (requested 3, available 1)" in result.describe()
    # a rejection is an answer: the event is processed, and a redelivery changes nothing
    assert reserve_stock(event, db).result is Result.DUPLICATE


def test_an_unknown_sku_is_a_shortage_of_everything(db: Database) -> None:
    event = order_placed_event(lines=[("NO-SUCH", 1, "1.00")])
    result = reserve_stock(event, db)
    assert result.shortages == (Shortfall("NO-SUCH", requested=1, available=0),)


def test_lines_of_the_same_sku_add_up_and_the_last_unit_can_go(db: Database) -> None:
    event = order_placed_event(lines=[("CAP-BLACK", 1, "14.00")])
    assert reserve_stock(event, db).result is Result.RESERVED
    assert reserve_stock(order_placed_event(lines=[("CAP-BLACK", 1, "14.00")]), db).shortages == (
        Shortfall("CAP-BLACK", requested=1, available=0),
    )

    twice = order_placed_event(lines=[("MUG-BLUE", 600, "8.50"), ("MUG-BLUE", 400, "8.50")])
    assert reserve_stock(twice, db).lines == (("MUG-BLUE", 1000),)
    levels = {lvl.sku: lvl for lvl in stock_levels(db)}
    assert (levels["MUG-BLUE"].reserved, levels["MUG-BLUE"].available) == (1000, 0)
    assert (levels["CAP-BLACK"].reserved, levels["CAP-BLACK"].available) == (1, 0)


def test_a_database_error_propagates_and_leaves_no_trace(db: Database) -> None:
    """The task retries what propagates; the transaction must not have half-committed.

    The outbox insert comes last (after the inbox row, the outcome, the stock and the
    reservations), so a missing outbox table fails the handler on the very database it wrote
    everything else to: all of it must be rolled back there."""
    outbox = table_of(OutboxMessage).name
    with db.transaction() as session:
        session.execute(text(f"DROP TABLE {outbox}"))
    event = order_placed_event(lines=[("MUG-BLUE", 2, "8.50")])
    before = reserved(db)

    with pytest.raises(OperationalError, match=f"no such table: {outbox}"):
        reserve_stock(event, db)

    assert inbox_count(db, event.id) == 0
    assert outcome(db, event.data.order_id) is None
    assert reservations_of(db, event.data.order_id) == {}
    assert reserved(db) == before
