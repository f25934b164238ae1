"""Fixtures and helpers for the orders tests (integration and e2e import them in conftest)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import select

from services.common.db import Database
from services.common.events import (
    Envelope,
    OrderPlaced,
    ReservedLine,
    Shortage,
    StockRejected,
    StockReleased,
    StockReserved,
    parse_event,
)
from services.common.topology import ORDER_PLACED, ORDERS_EXCHANGE
from services.orders.catalogue import seed_catalogue
from services.orders.commands import PlaceOrder, RequestedLine
from services.orders.manage import create_schema
from services.orders.models import Base, OutboxMessage
from services.orders.place import place_order
from services.orders.read import OrderView
from tests.support.broker import TestBroker
from tests.support.pgdb import throwaway_database
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess

DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def operator() -> dict[str, str]:
    """The headers of an operator's request: the session's ORDERS_OPERATOR_TOKEN (conftest)."""
    return {"Authorization": f"Bearer {os.environ['ORDERS_OPERATOR_TOKEN']}"}


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

    def envelopes(self) -> list[Envelope[Any]]:
        self._pull()
        return [parse_event(body) for _, body in self.messages]

    def wait_for_event(self, event_type: str, order_id: str, timeout: float = 60) -> Envelope[Any]:
        def arrived() -> Envelope[Any] | None:
            return next(
                (
                    e
                    for e in self.envelopes()
                    if e.type == event_type and e.data.order_id == order_id
                ),
                None,
            )

        return wait_until(
            arrived, timeout=timeout, message=f"{event_type} for order {order_id} on `orders`"
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


# ---- the order lifecycle ----------------------------------------------------------------------


def place(
    db: Database,
    lines: tuple[tuple[str, int], ...] = (("MUG-BLUE", 2), ("TEE-M", 1)),
    email: str = "ada@example.com",
) -> OrderView:
    """A PENDING order placed through the real handler."""
    command = PlaceOrder(
        customer_email=email,
        lines=tuple(RequestedLine(sku, qty) for sku, qty in lines),
        currency="EUR",
    )
    return place_order(command, db).order


def stock_reserved(order: OrderView) -> Envelope[StockReserved]:
    data = StockReserved(
        order_id=order.id,
        lines=tuple(ReservedLine(sku=ln.sku, quantity=ln.quantity) for ln in order.lines),
    )
    return Envelope.wrap(data, correlation_id=f"corr-{order.id}")


def stock_rejected(order: OrderView, short_sku: str = "MUG-BLUE") -> Envelope[StockRejected]:
    line = next(ln for ln in order.lines if ln.sku == short_sku)
    data = StockRejected(
        order_id=order.id,
        shortages=(Shortage(sku=short_sku, requested=line.quantity, available=0),),
    )
    return Envelope.wrap(data, correlation_id=f"corr-{order.id}")


def stock_released(order: OrderView) -> Envelope[StockReleased]:
    data = StockReleased(
        order_id=order.id,
        lines=tuple(ReservedLine(sku=ln.sku, quantity=ln.quantity) for ln in order.lines),
    )
    return Envelope.wrap(data)


def events_of(db: Database, order_id: str) -> list[str]:
    """The event types in the outbox for one order, in commit order."""
    return [row.event_type for row in outbox_rows(db) if row.aggregate_id == order_id]


WORKER_READY = r"orders@\S+ ready\."


def orders_worker(
    log_dir: Path, env: dict[str, str], name: str = "orders-worker"
) -> ServiceProcess:
    """`python -m services.orders.worker` as a subprocess (not started), two threads, quick
    retries; `env` says which database and wake-up port it uses."""
    return ServiceProcess(
        name,
        [PYTHON, "-m", "services.orders.worker"],
        log_dir,
        env={
            "ORDERS_WORKER_CONCURRENCY": "2",
            "ORDERS_RETRY_BACKOFF_SECONDS": "0.2",
            "ORDERS_RETRY_BACKOFF_MAX_SECONDS": "1",
            **env,
        },
    )


def handled(event: Envelope[Any], outcome: str) -> str:
    """The worker log line (a regex) saying how it handled `event`."""
    return (
        rf"{re.escape(event.type)} {re.escape(event.id)} correlation=\S+ for order \S+: {outcome}"
    )


def race(*jobs: Callable[[], object]) -> list[object]:
    """Start the jobs at the same moment in threads; return their results."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def run(i: int, job: Callable[[], object]) -> None:
        barrier.wait()
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
