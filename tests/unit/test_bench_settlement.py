"""The settlement of the bench's orders (bench/settlement.py) against real SQLite files of the
services' schemas: it counts and times only what came after it began (no system is run here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from bench.dbpeek import Peek
from bench.settlement import Settlement
from services.email.models import Base as EmailBase
from services.email.models import SentEmail
from services.orders.models import Base as OrdersBase
from services.orders.models import Order, OrderHistory, OutboxMessage
from services.orders.status import OrderStatus
from services.shipping.models import Base as ShippingBase


@pytest.fixture
def databases(tmp_path: Path) -> dict[str, str]:
    urls = {svc: f"sqlite:///{tmp_path}/{svc}.db" for svc in ("orders", "shipping", "email")}
    bases = {"orders": OrdersBase, "shipping": ShippingBase, "email": EmailBase}
    for svc, url in urls.items():
        engine = create_engine(url)
        bases[svc].metadata.create_all(engine)
        engine.dispose()
    return urls


def _settled_order(urls: dict[str, str], oid: str, at: datetime, outbox_id: int) -> None:
    """An order CONFIRMED at `at`, shipped a second later (the same status), its three mails
    sent."""
    with create_engine(urls["orders"]).begin() as conn:
        conn.execute(
            insert(Order).values(
                id=oid,
                customer_email="a@example.com",
                currency="EUR",
                total=1,
                status=OrderStatus.CONFIRMED,
                created_at=at,
                updated_at=at,
            )
        )
        for i, when in enumerate((at, at + timedelta(seconds=1))):
            step = {"order_id": oid, "at": when, "status": OrderStatus.CONFIRMED, "note": str(i)}
            conn.execute(insert(OrderHistory).values(**step))
        for i in range(3):
            conn.execute(
                insert(OutboxMessage).values(
                    id=outbox_id + i,
                    event_id=f"{oid}-e{i}",
                    event_type="t",
                    aggregate_id=oid,
                    correlation_id="c",
                    payload="{}",
                    created_at=at,
                    published_at=at,
                )
            )
    with create_engine(urls["email"]).begin() as conn:
        for i in range(3):
            sent = (at + timedelta(seconds=2 + i)).replace(tzinfo=None)
            conn.execute(
                insert(SentEmail).values(
                    event_id=f"{oid}-e{i}",
                    template=f"m{i}",
                    status="sent",
                    recipient="a@example.com",
                    message_id="m",
                    claim_token="t",
                    claimed_at=sent,
                    sent_at=sent,
                )
            )


def test_the_settlement_reads_only_what_came_after_it_began(databases: dict[str, str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _settled_order(databases, "old", now - timedelta(days=3), outbox_id=1)
    peeks = [Peek(databases[s]) for s in ("orders", "shipping", "email")]
    try:
        settlement = Settlement(peeks[0], [peeks[0], peeks[1]], peeks[2])
        assert settlement.counts() == (0, 0)  # the history is not counted
        _settled_order(databases, "new", now, outbox_id=100)
        assert settlement.counts() == (1, 3)
        times = settlement.times({"old": 0.0, "new": 0.0})
        assert list(times) == ["new"]
        # CONFIRMED when it was first so, not when its shipment was noted
        assert times["new"][0] == now.timestamp()
        assert sorted(times["new"][1:]) == [now.timestamp() + s for s in (2, 3, 4)]
    finally:
        for peek in peeks:
            peek.close()
