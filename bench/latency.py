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


def _analyse(sys_: System, spy: ArrivalSpy, record: Path, result: LatencyResult) -> None:
    answers = {oid: t for t, status, oid in json.loads(record.read_text()) if status == 202}
    orders, email = Peek(sys_.db_url("orders")), Peek(sys_.db_url("email"))
    inventory = Peek(sys_.db_url("inventory"))
    confirmed_sql = "SELECT order_id, at FROM order_history WHERE status = 'CONFIRMED'"
    outbox_sql = "SELECT aggregate_id, event_id, event_type, created_at, published_at FROM outbox"
    sent_sql = "SELECT event_id, sent_at FROM sent_emails WHERE status = 'sent'"
    try:

        def confirmed_now() -> dict[str, float]:
            rows = orders.rows(confirmed_sql)
            return {oid: epoch(at) for oid, at in rows if oid in answers}

        wait_until(
            lambda: len(confirmed_now()) == len(answers),
            timeout=120,
            message="every benchmark order CONFIRMED",
        )
        confirmed = confirmed_now()
        events = [row for row in orders.rows(outbox_sql) if row[0] in answers]
        placed = {agg: (eid, c, p) for agg, eid, typ, c, p in events if typ == ORDER_PLACED}
        mail_events = {eid: agg for agg, eid, _t, _c, _p in events}

        def sent_now() -> list[tuple[str, float]]:
            return [(e, epoch(at)) for e, at in email.rows(sent_sql) if e in mail_events]

        wait_until(
            lambda: len(sent_now()) >= 2 * len(answers),
            timeout=120,
            message="both mails of every benchmark order sent",
        )
        wait_until(lambda: all(e[0] in spy.arrivals for e in placed.values()), timeout=60)
        decided = dict(inventory.rows("SELECT order_id, decided_at FROM reservation_outcomes"))
        answered = {
            agg: (c, p)
            for agg, typ, c, p in inventory.rows(
                "SELECT aggregate_id, event_type, created_at, published_at FROM outbox"
            )
            if typ == STOCK_RESERVED
        }
        mails_done: dict[str, float] = {}
        for eid, sent_at in sent_now():
            oid = mail_events[eid]
            mails_done[oid] = max(mails_done.get(oid, 0.0), sent_at)
    finally:
        orders.close()
        email.close()
        inventory.close()

    def per_order(f: Callable[[str], float]) -> list[float]:
        return [f(oid) for oid in answers]

    result.add(
        "outbox.commit_to_confirm", per_order(lambda o: epoch(placed[o][2]) - epoch(placed[o][1]))
    )
    result.add(
        "outbox.commit_to_queue",
        per_order(lambda o: spy.arrivals[placed[o][0]] - epoch(placed[o][1])),
    )
    result.add("saga.confirmed", per_order(lambda o: confirmed[o] - answers[o]))
    # Where the time goes: each hop's p50/p99 (all per order).
    result.add("hop.orders_relay", per_order(lambda o: epoch(placed[o][2]) - epoch(placed[o][1])))
    result.add("hop.inventory_worker", per_order(lambda o: epoch(decided[o]) - epoch(placed[o][2])))
    result.add(
        "hop.inventory_relay",
        per_order(lambda o: epoch(answered[o][1]) - epoch(answered[o][0])),
    )
    result.add("hop.orders_worker", per_order(lambda o: confirmed[o] - epoch(answered[o][1])))
    result.add("saga.mails", per_order(lambda o: mails_done[o] - answers[o]))
