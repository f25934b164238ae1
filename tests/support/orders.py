"""Fixtures and helpers for the orders tests (integration and e2e import them in conftest)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import select

from services.common.db import Database
from services.common.events import OrderPlaced, parse_event
from services.common.topology import ORDER_PLACED, ORDERS_EXCHANGE
from services.orders.catalogue import seed_catalogue
from services.orders.manage import create_schema
from services.orders.models import Base, OutboxMessage
from tests.support.broker import TestBroker
from tests.support.pgdb import throwaway_database
from tests.support.polling import wait_until

DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port nothing listens on right now (for wake-ups, or as a 'broker down' address)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def orders_pg_url() -> Iterator[str]:
    with throwaway_database("orders_test") as url:
        yield url


@pytest.fixture(params=DB_KINDS)
def orders_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty orders database with the schema and the demo catalogue, on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/orders.db"
    else:
        url = request.getfixturevalue("orders_pg_url")
    db = Database(url)
    try:
        Base.metadata.drop_all(db.engine)
        create_schema(db)
        seed_catalogue(db)
    finally:
        db.dispose()
    return url


def outbox_rows(db: Database) -> list[OutboxMessage]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def order_body(email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    return {
        "customer_email": email,
        "lines": [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}],
        **extra,
    }


class EventTap:
    """An exclusive, auto-deleted queue bound to `orders` (as the admin) that records events."""

    def __init__(self, channel: Any, queue: str) -> None:
        self.channel = channel
        self.queue = queue
        self.messages: list[tuple[Any, bytes]] = []

    def _pull(self) -> None:
        while True:
            method, props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return
            self.messages.append((props, body))

    def order_ids(self) -> list[str]:
        self._pull()
        return [parse_event(body).data.order_id for _, body in self.messages]

    def wait_for(self, order_ids: list[str], timeout: float = 60) -> list[str]:
        """Wait until every id has arrived; return all ids received so far, in arrival order."""
        wanted = set(order_ids)

        def arrived() -> list[str] | None:
            got = self.order_ids()
            return got if wanted <= set(got) else None

        return wait_until(
            arrived,
            timeout=timeout,
            message=lambda: f"events for {len(wanted)} orders (have {len(self.messages)})",
        )

    def placed(self) -> list[tuple[Any, OrderPlaced]]:
        self._pull()
        out = []
        for props, body in self.messages:
            envelope = parse_event(body, accept={ORDER_PLACED})
            assert isinstance(envelope.data, OrderPlaced)
            out.append((props, envelope.data))
        return out


@contextmanager
def tap_orders_exchange(broker: TestBroker) -> Iterator[EventTap]:
    connection = pika.BlockingConnection(broker.params())
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, ORDERS_EXCHANGE, "#")
        yield EventTap(channel, queue)
    finally:
        if connection.is_open:
            connection.close()
