"""Stage 7, the relay: N committed outbox rows published by the orders relay.

The rows are real `order.placed` envelopes written with the outbox's own `add_event`, committed in
batches before the relay starts; the bench counts rows marked published. Both event queues fill up
meanwhile (purged afterwards): the broker side of the drain is the real one.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.dbpeek import Peek
from bench.drain import Drain, watch
from bench.messages import order_placed
from bench.procs import rss_mb, start, stop
from bench.vhost import BenchVhost
from services.common.db import Database
from services.common.outbox import add_event
from services.common.topology import EMAIL_EVENTS_QUEUE, INVENTORY_EVENTS_QUEUE
from services.orders.models import OutboxMessage
from tests.support.system import System

BATCH = 1000


def fill_outbox(url: str, n: int) -> None:
    db = Database(url)
    try:
        for first in range(0, n, BATCH):
            with db.transaction() as session:
                for i in range(first, min(n, first + BATCH)):
                    env = order_placed(i)
                    add_event(session, OutboxMessage, env, aggregate_id=env.data.order_id)
    finally:
        db.dispose()


def relay_drain(
    vh: BenchVhost, sys_: System, n: int, cpu: Callable[[], float] | None = None
) -> Drain:
    """`cpu`: CPU seconds used so far by some process to sample with the drain (the broker's)."""
    url = sys_.db_url("orders")
    peek = Peek(url)
    unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
    base = peek.scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    fill_outbox(url, n)
    assert peek.scalar(unpublished) >= n
    start(sys_, "orders-relay")
    proc = sys_.procs["orders-relay"]
    try:
        published = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
        return watch(
            lambda: peek.scalar(published) - base,
            n,
            timeout=max(120, n / 50),
            interval=0.1,
            memory=lambda: rss_mb(proc.pid),
            cpu=cpu,
            alive=[proc.alive],
        )
    finally:
        stop(sys_, "orders-relay")
        peek.close()
        vh.purge(INVENTORY_EVENTS_QUEUE, EMAIL_EVENTS_QUEUE)
