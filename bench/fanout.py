"""Stages 3 and 7: a backlog of N `order.placed` events drained by inventory and email.

The events are published straight to the `orders` exchange (windowed confirms) while no worker
runs, so both event queues hold N. Then the inventory and email workers start (the Procfile's
commands, default pool/concurrency/prefetch) and the bench counts what has *committed*: rows in
inventory's inbox (`processed_events`) and mails marked sent in email's `sent_emails`, i.e. each
event went through ingress, hand-off, task and DB commit (and for email, SMTP to the sink). The
databases are kept across runs, so later runs also show whether the cost grows with the tables.
With `processes` > 1 each service runs that many worker processes (the `workers` stage): their
CPU and memory are summed, and `prefilled=False` publishes the backlog only once every process is
ready, so that no process drains alone while another is still starting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from bench import amqp
from bench.dbpeek import Peek
from bench.drain import Drain
from bench.messages import order_placed_messages
from bench.procs import cpu_seconds, rss_mb, start, stop
from bench.stats import Spread
from bench.vhost import BenchVhost
from services.common.topology import ORDERS_EXCHANGE
from tests.support.system import System

T = TypeVar("T")
Meters = dict[str, Callable[[], float]]  # name -> CPU seconds used so far
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
    # CPU per event of other processes (`meters`, e.g. the database server), from the first
    # event done by either service to the last
    other_cpu_ms: dict[str, list[float]] = field(default_factory=dict)

    def spread(self, service: str) -> Spread:
        return Spread.of(self.rates.get(service, []))

    def merge(self, other: FanoutResult) -> None:
        """Another run's figures added to this one's."""
        _extend(self.rates, other.rates)
        _extend(self.halves, other.halves)
        _extend(self.rss, other.rss)
        _extend(self.cpu_ms, other.cpu_ms)
        _extend(self.other_cpu_ms, other.other_cpu_ms)


def _extend(mine: dict[str, list[T]], theirs: dict[str, list[T]]) -> None:
    for svc, values in theirs.items():
        mine.setdefault(svc, []).extend(values)


def instances(processes: int) -> dict[str, list[str]]:
    """Each service's worker processes by name: `inventory-worker`, `inventory-worker-2`..."""
    return {
        svc: [name, *(f"{name}-{i}" for i in range(2, processes + 1))]
        for svc, name in WORKERS.items()
    }


def fanout(
    vh: BenchVhost,
    sys_: System,
    n: int,
    runs: int,
    processes: int = 1,
    prefilled: bool = True,
    meters: Meters | None = None,
) -> FanoutResult:
    result = FanoutResult(n)
    if "smtp-sink" not in sys_.procs:
        start(sys_, "smtp-sink")
    names = instances(processes)
    every = [name for labels in names.values() for name in labels]
    for _ in range(runs):
        peeks = {svc: Peek(sys_.db_url(svc)) for svc in WORKERS}
        before = {svc: peeks[svc].scalar(COUNT_SQL[svc]) for svc in WORKERS}
        if prefilled:
            amqp.publish_windowed(vh.params(), ORDERS_EXCHANGE, order_placed_messages(n))
        for svc, labels in names.items():
            for label in labels:
                sys_.start(WORKERS[svc], instance=label)
        for label in every:
            sys_.wait_ready(label)
        if not prefilled:
            amqp.publish_windowed(vh.params(), ORDERS_EXCHANGE, order_placed_messages(n))
        try:
            drains, other = _watch_both(sys_, names, peeks, before, n, meters or {})
        finally:
            stop(sys_, *every)
            for p in peeks.values():
                p.close()
        for svc, drain in drains.items():
            result.rates.setdefault(svc, []).append(drain.rate)
            result.halves.setdefault(svc, []).append(drain.half_rates())
            result.rss.setdefault(svc, []).append(drain.rss_growth)
            result.cpu_ms.setdefault(svc, []).append(drain.cpu_ms_per_item)
        for name, seconds in other.items():
            result.other_cpu_ms.setdefault(name, []).append(seconds / n * 1000)
    return result


def _watch_both(
    sys_: System,
    names: dict[str, list[str]],
    peeks: dict[str, Peek],
    before: dict[str, int],
    n: int,
    meters: Meters,
) -> tuple[dict[str, Drain], dict[str, float]]:
    """Sample both services together; each one's drain ends when it has done its N. Also the
    CPU seconds each meter counted from the first event done to the last."""
    drains = {svc: Drain(n) for svc in WORKERS}
    first: dict[str, float] = {}
    procs = {svc: [sys_.procs[name] for name in labels] for svc, labels in names.items()}
    deadline = time.monotonic() + max(300, n / 5)  # generous: a loaded machine is slow
    while True:
        now = time.monotonic()
        for svc, drain in drains.items():
            if drain.samples and drain.samples[-1][1] >= n:
                continue
            drain.samples.append((now, peeks[svc].scalar(COUNT_SQL[svc]) - before[svc]))
            drain.rss.append(sum(rss_mb(p.pid) for p in procs[svc]))
            drain.cpu.append(sum(cpu_seconds(p.pid) for p in procs[svc]))
        if not first and any(d.samples[-1][1] > 0 for d in drains.values()):
            first = {name: meter() for name, meter in meters.items()}
        if all(d.samples[-1][1] >= n for d in drains.values()):
            return drains, {name: meter() - first[name] for name, meter in meters.items()}
        dead = [p.name for ps in procs.values() for p in ps if not p.alive()]
        if dead or now > deadline:
            raise RuntimeError(f"fan-out of {n} stuck: dead={dead}, counts={_counts(drains)}")
        time.sleep(0.1)


def _counts(drains: dict[str, Drain]) -> dict[str, int]:
    return {svc: d.samples[-1][1] for svc, d in drains.items()}
