"""Stages 3 and 7: a backlog of N `order.placed` events drained by inventory and email.

The events are published straight to the `orders` exchange (windowed confirms) while no worker
runs, so both event queues hold N. Then the inventory and email workers start (the Procfile's
commands, default pool/concurrency/prefetch) and the bench counts what has *committed*: rows in
inventory's inbox (`processed_events`) and mails marked sent in email's `sent_emails`, i.e. each
event went through ingress, hand-off, task and DB commit (and for email, SMTP to the sink). The
databases are kept across runs, so later runs also show whether the cost grows with the tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench import amqp
from bench.dbpeek import Peek
from bench.drain import Drain
from bench.messages import order_placed_messages
from bench.procs import cpu_seconds, rss_mb, start, stop
from bench.stats import Spread
from bench.vhost import BenchVhost
from services.common.topology import ORDERS_EXCHANGE
from tests.support.system import System

WORKERS = {"inventory": "inventory-worker", "email": "email-worker"}
COUNT_SQL = {
    "inventory": "SELECT count(*) FROM processed_events",
    "email": "SELECT count(*) FROM sent_emails WHERE status = 'sent'",
}


@dataclass
class FanoutResult:
    n: int
    rates: dict[str, list[float]] = field(default_factory=dict)  # events/s per run
    halves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # MB start, end
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # worker CPU per event

    def spread(self, service: str) -> Spread:
        return Spread.of(self.rates.get(service, []))


def fanout(vh: BenchVhost, sys_: System, n: int, runs: int) -> FanoutResult:
    result = FanoutResult(n)
    if "smtp-sink" not in sys_.procs:
        start(sys_, "smtp-sink")
    for _ in range(runs):
        peeks = {svc: Peek(sys_.db_url(svc)) for svc in WORKERS}
        before = {svc: peeks[svc].scalar(COUNT_SQL[svc]) for svc in WORKERS}
        amqp.publish_windowed(vh.params(), ORDERS_EXCHANGE, order_placed_messages(n))
        start(sys_, *WORKERS.values())
        try:
            drains = _watch_both(sys_, peeks, before, n)
        finally:
            stop(sys_, *WORKERS.values())
            for p in peeks.values():
                p.close()
        for svc, drain in drains.items():
            result.rates.setdefault(svc, []).append(drain.rate)
            result.halves.setdefault(svc, []).append(drain.half_rates())
            result.rss.setdefault(svc, []).append(drain.rss_growth)
            result.cpu_ms.setdefault(svc, []).append(drain.cpu_ms_per_item)
    return result


def _watch_both(
    sys_: System, peeks: dict[str, Peek], before: dict[str, int], n: int
) -> dict[str, Drain]:
    """Sample both services together; each one's drain ends when it has done its N."""
    drains = {svc: Drain(n) for svc in WORKERS}
    procs = {svc: sys_.procs[name] for svc, name in WORKERS.items()}
    deadline = time.monotonic() + max(120, n / 20)
    while True:
        now = time.monotonic()
        for svc, drain in drains.items():
            if drain.samples and drain.samples[-1][1] >= n:
                continue
            drain.samples.append((now, peeks[svc].scalar(COUNT_SQL[svc]) - before[svc]))
            drain.rss.append(rss_mb(procs[svc].pid))
            drain.cpu.append(cpu_seconds(procs[svc].pid))
        if all(d.samples[-1][1] >= n for d in drains.values()):
            return drains
        dead = [svc for svc, p in procs.items() if not p.alive()]
        if dead or now > deadline:
            raise RuntimeError(f"fan-out of {n} stuck: dead={dead}, counts={_counts(drains)}")
        time.sleep(0.1)


def _counts(drains: dict[str, Drain]) -> dict[str, int]:
    return {svc: d.samples[-1][1] for svc, d in drains.items()}
