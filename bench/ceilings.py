"""Stages 1 and 2: the broker's and Celery's ceilings, the baselines of everything else.

1. Raw pika against the real `orders` exchange, which the topology binds to two queues
   (`inventory.orders`, `email.orders`) for `order.placed`: windowed-confirm publish, publish
   with one confirm at a time (its per-message latency is the baseline of the outbox stage), and
   a manual-ack consume at prefetch 100.
2. A no-op task drained by a worker built like ours (bench/noop_worker.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import amqp
from bench.drain import watch
from bench.messages import NOOP_TASK, filler_messages, noop_task_messages
from bench.procs import cpu_seconds, module_process
from bench.stats import Spread, percentile
from bench.vhost import BenchVhost
from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    INVENTORY_EVENTS_QUEUE,
    ORDERS_EXCHANGE,
    Service,
    task_queue,
)
from tests.support.system import System

CONSUME_PREFETCH = 100
CONFIRM_WINDOW = 256


@dataclass(frozen=True)
class BrokerCeiling:
    publish_windowed: Spread  # msg/s
    publish_one_by_one: Spread  # msg/s
    publish_p50_ms: Spread
    publish_p99_ms: Spread
    consume: Spread  # msg/s


def broker_ceiling(vh: BenchVhost, n: int, n_single: int, runs: int) -> BrokerCeiling:
    params = vh.params()
    windowed, single, p50, p99, consumed = [], [], [], [], []
    for _ in range(runs):
        vh.purge(INVENTORY_EVENTS_QUEUE, EMAIL_EVENTS_QUEUE)
        sent, seconds = amqp.publish_windowed(
            params, ORDERS_EXCHANGE, filler_messages(n), CONFIRM_WINDOW
        )
        windowed.append(sent / seconds)
        consumed.append(n / amqp.consume(params, INVENTORY_EVENTS_QUEUE, n, CONSUME_PREFETCH))
        vh.purge(INVENTORY_EVENTS_QUEUE, EMAIL_EVENTS_QUEUE)
        lat = amqp.publish_one_by_one(params, ORDERS_EXCHANGE, filler_messages(n_single))
        single.append(len(lat) / sum(lat))
        p50.append(percentile(lat, 50) * 1000)
        p99.append(percentile(lat, 99) * 1000)
    vh.purge(INVENTORY_EVENTS_QUEUE, EMAIL_EVENTS_QUEUE)
    return BrokerCeiling(
        Spread.of(windowed), Spread.of(single), Spread.of(p50), Spread.of(p99), Spread.of(consumed)
    )


def celery_ceiling(vh: BenchVhost, sys_: System, n: int, runs: int) -> tuple[Spread, Spread]:
    """No-op tasks/s and worker CPU ms per task: fill the private queue, start the worker, time
    the queue emptying."""
    queue = task_queue(Service.INVENTORY)
    rates, cpu = [], []
    for i in range(runs):
        vh.purge(queue)
        amqp.publish_windowed(
            vh.params(), queue, noop_task_messages(n, NOOP_TASK, queue), CONFIRM_WINDOW
        )
        proc = module_process(sys_, f"noop-worker-{i}", "bench.noop_worker")
        try:
            drain = watch(
                lambda: n - vh.depth(queue),
                n,
                timeout=max(60, n / 50),
                cpu=lambda p=proc.pid: cpu_seconds(p),  # type: ignore[misc]
                alive=[proc.alive],
            )
            rates.append(drain.rate)
            cpu.append(drain.cpu_ms_per_item)
        finally:
            proc.stop()
            sys_.procs.pop(proc.name, None)
    return Spread.of(rates), Spread.of(cpu)
