"""When the bench's orders settle: CONFIRMED, and every mail of their customer marked sent.

Reads the orders and email databases, and the outboxes of the services whose events are mailed
(bench/order_flow.py), while the system runs. Only what came after the
settlement began is read: it marks the newest order, sent mail and outbox row already there, and
every query is bounded by those marks through an index (`ix_orders_status_created`,
`ix_sent_emails_status_sent_at`, the outbox's primary key). On a database holding a million
orders of history (the `history` stage) an unbounded count would read the whole table five times
a second; on an empty one the marks are empty and nothing is filtered.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.dbpeek import Peek, epoch
from bench.order_flow import mail_sources, mails_per_order
from services.common.registry import Service
from tests.support.system import System

SETTLE_TIMEOUT = 30.0
MAILS_PER_ORDER = mails_per_order()

_PLACED_MARK = "SELECT max(created_at) FROM orders"
_SENT_MARK = "SELECT max(sent_at) FROM sent_emails WHERE status = 'sent'"
_OUTBOX_MARK = "SELECT max(id) FROM outbox"
_EVENTS = "SELECT event_id, aggregate_id FROM outbox"  # each mail source's events


@dataclass(frozen=True)
class Marks:
    """The newest rows before the settlement began (None: there were none)."""

    placed: Any = None  # orders.created_at, as the driver returned it
    sent: Any = None  # sent_emails.sent_at of a sent mail
    outbox: tuple[Any, ...] = ()  # the newest id of each mail source's outbox


class Settlement:
    """How many orders are CONFIRMED and mails sent, and when each order of a step settled."""

    def __init__(self, orders: Peek, outboxes: list[Peek], email: Peek) -> None:
        self.orders, self.outboxes, self.email = orders, outboxes, email
        self.marks = Marks(
            placed=_mark(orders, _PLACED_MARK),
            sent=_mark(email, _SENT_MARK),
            outbox=tuple(_mark(outbox, _OUTBOX_MARK) for outbox in outboxes),
        )
        self.confirmed = self.sent = 0  # the counts once the last step settled

    @classmethod
    @contextmanager
    def of(cls, sys_: System) -> Iterator[Settlement]:
        sources = mail_sources()
        wanted = {Service.ORDERS, Service.EMAIL, *sources}
        peeks = {s: Peek(sys_.db_url(s)) for s in Service if s in wanted}
        try:
            yield cls(peeks[Service.ORDERS], [peeks[s] for s in sources], peeks[Service.EMAIL])
        finally:
            for peek in peeks.values():
                peek.close()

    def counts(self) -> tuple[int, int]:
        confirmed = "SELECT count(*) FROM orders WHERE status = 'CONFIRMED'"
        sent = "SELECT count(*) FROM sent_emails WHERE status = 'sent'"
        confirmed, placed = _query(self.orders, confirmed, "created_at", self.marks.placed)
        sent, since = _query(self.email, sent, "sent_at", self.marks.sent)
        return self.orders.scalar(confirmed, *placed), self.email.scalar(sent, *since)

    def quiesce(self) -> None:
        """Wait until nothing settles any more (a failed step's orders finishing), then take
        the counts as the next step's base."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        last = self.counts()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            now = self.counts()
            if now == last:
                break
            last = now
        self.confirmed, self.sent = last

    def wait(self, placed: int) -> bool:
        """Until `placed` more orders are CONFIRMED with every mail sent."""
        want = (self.confirmed + placed, self.sent + MAILS_PER_ORDER * placed)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            confirmed, sent = self.counts()
            if confirmed >= want[0] and sent >= want[1]:
                self.confirmed, self.sent = confirmed, sent
                return True
            time.sleep(0.2)
        return False

    def times(self, answered: dict[str, float]) -> dict[str, list[float]]:
        """Order id -> [CONFIRMED at, and each mail's sent at] of every settled order. An
        order's CONFIRMED moment is its first CONFIRMED timeline step (later steps, such as
        another service's note, keep the status)."""
        confirmed = (
            "SELECT h.order_id, min(h.at) FROM orders o JOIN order_history h ON h.order_id = o.id "
            "WHERE o.status = 'CONFIRMED' AND h.status = 'CONFIRMED'"
        )
        sql, params = _query(self.orders, confirmed, "o.created_at", self.marks.placed)
        rows = self.orders.rows(f"{sql} GROUP BY h.order_id", *params)
        times = {oid: [epoch(at)] for oid, at in rows if oid in answered}
        order_of: dict[str, str] = {}
        for outbox, mark in zip(self.outboxes, self.marks.outbox, strict=True):
            events, after = _query(outbox, _EVENTS, "id", mark)
            order_of.update((e, agg) for e, agg in outbox.rows(events, *after) if agg in answered)
        sent = "SELECT event_id, sent_at FROM sent_emails WHERE status = 'sent'"
        sent, since = _query(self.email, sent, "sent_at", self.marks.sent)
        for eid, sent_at in self.email.rows(sent, *since):
            oid = order_of.get(eid)
            if oid in times:
                times[oid].append(epoch(sent_at))
        return {oid: t for oid, t in times.items() if len(t) == 1 + MAILS_PER_ORDER}


def _mark(peek: Peek, sql: str) -> Any:
    row = peek.rows(sql)
    return row[0][0] if row else None


def _query(peek: Peek, sql: str, column: str, mark: Any) -> tuple[str, list[Any]]:
    """`sql` and its parameters, limited to rows whose `column` is past `mark`; `sql` alone
    when there is no mark."""
    if mark is None:
        return sql, []
    where = " AND " if " WHERE " in sql else " WHERE "
    return f"{sql}{where}{column} > {peek.placeholder}", [mark]
