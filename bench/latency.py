"""Stages 5 and 6: outbox latency and end-to-end saga latency at a fixed moderate rate.

Every Procfile process runs. The load generator POSTs orders at a fixed rate and records, per
order, when the answer arrived. A bench consumer has its own queue bound to the `orders` exchange
for `order.placed` and records when each event arrives. Afterwards the bench reads:

- outbox: the row's `created_at` (set in the API's transaction just before its commit) and its
  `published_at` (set by the relay after the broker confirmed the batch); the event's arrival in
  the bench queue. Commit -> confirm is taken as `published_at - created_at` (an upper bound: the
  mark follows the confirm), commit -> broker as `arrival - created_at`;
- saga: the order's CONFIRMED timeline entry (`order_history.at`) and the `sent_at` of its two mails
  (received, confirmed) in email's `sent_emails`, each minus the POST's return.

All clocks are the one machine's wall clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika

from bench.dbpeek import Peek, epoch
from bench.http_api import load
from bench.procs import start
from bench.stats import Spread, percentile
from bench.vhost import BenchVhost
from services.common.topology import ORDER_PLACED, ORDERS_EXCHANGE, STOCK_RESERVED
from tests.support.polling import wait_until
from tests.support.system import DEFAULT_PROCESSES, System


class ArrivalSpy(threading.Thread):
    """Records the wall-clock arrival of every `order.placed` on a private bound queue."""

    def __init__(self, params: pika.ConnectionParameters) -> None:
        super().__init__(daemon=True)
        self.arrivals: dict[str, float] = {}
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self._params = params

    def run(self) -> None:
        conn = pika.BlockingConnection(self._params)
        ch = conn.channel()
        queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        ch.queue_bind(queue, ORDERS_EXCHANGE, ORDER_PLACED)
        ch.basic_consume(queue, self._on_message, auto_ack=True)
        self.ready.set()
        while not self.stopping.is_set():
            conn.process_data_events(0.05)
        conn.close()

    def _on_message(self, _ch: object, _m: object, props: pika.BasicProperties, _b: bytes) -> None:
        self.arrivals[str(props.message_id)] = time.time()


@dataclass
class LatencyResult:
    ms: dict[str, list[float]] = field(default_factory=dict)  # "<what>.p50" -> per run

    def add(self, key: str, samples: list[float]) -> None:
        self.ms.setdefault(f"{key}.p50", []).append(percentile(samples, 50) * 1000)
        self.ms.setdefault(f"{key}.p99", []).append(percentile(samples, 99) * 1000)

    def spread(self, key: str) -> Spread:
        return Spread.of(self.ms.get(key, []))


def saga_latency(
    vh: BenchVhost, sys_: System, runs: int, rate: float, duration: float
) -> LatencyResult:
    start(sys_, *DEFAULT_PROCESSES)
    result = LatencyResult()
    spy = ArrivalSpy(vh.params())
    spy.start()
    spy.ready.wait(30)
    try:
        for i in range(runs):
            record = sys_.tmp / f"saga-load-{i}.json"
            load(
                f"{sys_.api_url}/orders",
                rate=rate,
                duration=duration,
                record=str(record),
                warmup=0.5,
            )
            _analyse(sys_, spy, record, result)
    finally:
        spy.stopping.set()
    return result


# An order's first CONFIRMED step: later steps (another service's note) keep the status.
_CONFIRMED_SQL = (
    "SELECT order_id, min(at) FROM order_history WHERE status = 'CONFIRMED' GROUP BY order_id"
)
_ORDERS_OUTBOX_SQL = (
    "SELECT aggregate_id, event_id, event_type, created_at, published_at FROM outbox"
)
_SENT_SQL = "SELECT event_id, sent_at FROM sent_emails WHERE status = 'sent'"
_DECIDED_SQL = "SELECT order_id, decided_at FROM reservation_outcomes"
_INVENTORY_OUTBOX_SQL = "SELECT aggregate_id, event_type, created_at, published_at FROM outbox"


@dataclass(frozen=True)
class _Timeline:
    """When each benchmark order (by id) passed each point of the saga. Epoch seconds, or the
    databases' stored timestamps (`epoch()` turns those into seconds)."""

    answered: dict[str, float]  # the POST's answer arrived
    placed: dict[str, tuple[str, Any, Any]]  # order.placed: (event id, created_at, published_at)
    decided: dict[str, Any]  # inventory decided
    reserved: dict[str, tuple[Any, Any]]  # stock.reserved: (created_at, published_at)
    confirmed: dict[str, float]  # the order became CONFIRMED
    mails_sent: dict[str, float]  # the later of its two mails went out


def _analyse(sys_: System, spy: ArrivalSpy, record: Path, result: LatencyResult) -> None:
    answered = {oid: t for t, status, oid in json.loads(record.read_text()) if status == 202}
    orders, email = Peek(sys_.db_url("orders")), Peek(sys_.db_url("email"))
    inventory = Peek(sys_.db_url("inventory"))
    try:
        timeline = _timeline(answered, spy, orders, email, inventory)
    finally:
        orders.close()
        email.close()
        inventory.close()
    _add_latencies(result, timeline, spy)


def _timeline(
    answered: dict[str, float], spy: ArrivalSpy, orders: Peek, email: Peek, inventory: Peek
) -> _Timeline:
    """Waits until every order is CONFIRMED, both its mails are sent and the spy saw its
    order.placed, then reads each point's time."""
    confirmed = _wait_confirmed(orders, answered)
    events = [row for row in orders.rows(_ORDERS_OUTBOX_SQL) if row[0] in answered]
    placed = {agg: (eid, c, p) for agg, eid, typ, c, p in events if typ == ORDER_PLACED}
    mail_events = {eid: agg for agg, eid, _t, _c, _p in events}
    wait_until(
        lambda: len(_sent(email, mail_events)) >= 2 * len(answered),
        timeout=120,
        message="both mails of every benchmark order sent",
    )
    wait_until(lambda: all(e[0] in spy.arrivals for e in placed.values()), timeout=60)
    decided = dict(inventory.rows(_DECIDED_SQL))
    reserved = {
        agg: (c, p)
        for agg, typ, c, p in inventory.rows(_INVENTORY_OUTBOX_SQL)
        if typ == STOCK_RESERVED
    }
    mails_sent: dict[str, float] = {}
    for eid, sent_at in _sent(email, mail_events):
        oid = mail_events[eid]
        mails_sent[oid] = max(mails_sent.get(oid, 0.0), sent_at)
    return _Timeline(
        answered=answered,
        placed=placed,
        decided=decided,
        reserved=reserved,
        confirmed=confirmed,
        mails_sent=mails_sent,
    )


def _wait_confirmed(orders: Peek, answered: dict[str, float]) -> dict[str, float]:
    def confirmed_now() -> dict[str, float]:
        rows = orders.rows(_CONFIRMED_SQL)
        return {oid: epoch(at) for oid, at in rows if oid in answered}

    wait_until(
        lambda: len(confirmed_now()) == len(answered),
        timeout=120,
        message="every benchmark order CONFIRMED",
    )
    return confirmed_now()


def _sent(email: Peek, mail_events: dict[str, str]) -> list[tuple[str, float]]:
    """(event id, sent at) of every mail sent for one of `mail_events`."""
    return [(e, epoch(at)) for e, at in email.rows(_SENT_SQL) if e in mail_events]


def _add_latencies(result: LatencyResult, tl: _Timeline, spy: ArrivalSpy) -> None:
    def per_order(f: Callable[[str], float]) -> list[float]:
        return [f(oid) for oid in tl.answered]

    def created(o: str) -> float:
        return epoch(tl.placed[o][1])

    def published(o: str) -> float:
        return epoch(tl.placed[o][2])

    result.add("outbox.commit_to_confirm", per_order(lambda o: published(o) - created(o)))
    result.add(
        "outbox.commit_to_queue", per_order(lambda o: spy.arrivals[tl.placed[o][0]] - created(o))
    )
    result.add("saga.confirmed", per_order(lambda o: tl.confirmed[o] - tl.answered[o]))
    # Where the time goes: each hop's p50/p99 (all per order).
    result.add("hop.orders_relay", per_order(lambda o: published(o) - created(o)))
    result.add("hop.inventory_worker", per_order(lambda o: epoch(tl.decided[o]) - published(o)))
    result.add(
        "hop.inventory_relay",
        per_order(lambda o: epoch(tl.reserved[o][1]) - epoch(tl.reserved[o][0])),
    )
    result.add("hop.orders_worker", per_order(lambda o: tl.confirmed[o] - epoch(tl.reserved[o][1])))
    result.add("saga.mails", per_order(lambda o: tl.mails_sent[o] - tl.answered[o]))
