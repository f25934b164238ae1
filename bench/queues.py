"""Stage 9, queue types: classic against quorum queues side by side, on the same broker node.

Each type gets its own throwaway vhost, applied by the real vhost tool with that queue type, and
its own set of processes started with `BROKER_QUEUE_TYPE` set to it (which is how a worker knows
it consumes quorum queues). The runs alternate between the types, so the load that other work puts
on the machine falls on both alike. Per run and type:

- the relay's publisher (`PikaPublisher`, the relay's own code) publishing one outbox message per
  batch, as the relay does at a moderate rate (a pass carries one row): the time from the publish
  to the broker's confirm, p50 and p99;
- the orders relay draining a committed outbox backlog (stage 7's relay drain), with the CPU the
  RabbitMQ node used meanwhile per row (the node's whole process: other vhosts' work on a shared
  node counts too, so it is an upper bound);
- the inventory and email workers draining a prefilled queue (stage 3's fan-out).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

from bench import fanout, procs, relay_drain
from bench.messages import order_placed
from bench.stats import Spread, percentile
from bench.vhost import BenchVhost, sibling_vhost
from services.common.outbox.pika_publisher import PikaPublisher
from services.common.outbox.store import OutboundMessage
from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    INVENTORY_EVENTS_QUEUE,
    ORDER_PLACED,
    ORDERS_EXCHANGE,
    QueueType,
)
from tests.support.system import System

QUEUE_TYPES = (QueueType.CLASSIC, QueueType.QUORUM)


@dataclass(frozen=True)
class QueueSizes:
    runs: int = 3
    confirms: int = 500  # one-row publishes timed per run
    relay_rows: int = 10_000
    fanout: int = 1_000


@dataclass
class QueuesResult:
    sizes: QueueSizes
    figures: dict[str, list[float]] = field(default_factory=dict)  # "<type>.<measure>": per run

    def add(self, queue_type: QueueType, key: str, value: float) -> None:
        self.figures.setdefault(f"{queue_type.value}.{key}", []).append(value)

    def spread(self, queue_type: QueueType, key: str) -> Spread:
        return Spread.of(self.figures.get(f"{queue_type.value}.{key}", []))


def queue_types(tmp: Path, sizes: QueueSizes, progress: Callable[[str], None]) -> QueuesResult:
    result = QueuesResult(sizes)
    with ExitStack() as stack:
        sides = []
        for qt in QUEUE_TYPES:
            vh = stack.enter_context(sibling_vhost(qt))
            sides.append((qt, vh, stack.enter_context(procs.system(tmp / qt.value, vh.env))))
        for run in range(1, sizes.runs + 1):
            for qt, vh, sys_ in sides:
                progress(f"stage 9: {qt.value} queues, run {run} of {sizes.runs}")
                _one_run(qt, vh, sys_, sizes, result)
    return result


def _one_run(
    qt: QueueType, vh: BenchVhost, sys_: System, sizes: QueueSizes, result: QueuesResult
) -> None:
    latencies = confirm_latencies(vh, sizes.confirms)
    result.add(qt, "confirm.p50", percentile(latencies, 50) * 1000)
    result.add(qt, "confirm.p99", percentile(latencies, 99) * 1000)
    node = broker_pid(vh)
    cpu = None if node is None else (lambda: procs.cpu_seconds(node))
    drain = relay_drain.relay_drain(vh, sys_, sizes.relay_rows, cpu)
    result.add(qt, "relay", drain.rate)
    result.add(qt, "relay.broker_cpu", drain.cpu_ms_per_item)
    drained = fanout.fanout(vh, sys_, sizes.fanout, 1)
    for svc in fanout.WORKERS:
        result.add(qt, f"fanout.{svc}", drained.rates[svc][0])
        result.add(qt, f"fanout.{svc}.cpu", drained.cpu_ms[svc][0])


def broker_pid(vh: BenchVhost) -> int | None:
    """The RabbitMQ node's OS process, if it runs on this machine (one node, readable `/proc`)."""
    try:
        r = httpx.get(
            f"{vh.management_url}/api/nodes", auth=(vh.admin_user, vh.admin_password), timeout=5
        )
        nodes = r.json()
        pid = int(nodes[0]["os_pid"]) if len(nodes) == 1 else 0
        local = pid > 0 and "beam" in Path(f"/proc/{pid}/comm").read_text(errors="replace")
    except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError):
        return None
    return pid if local else None


def confirm_latencies(vh: BenchVhost, n: int) -> list[float]:
    """Seconds from handing one `order.placed` outbox message to the relay's publisher to its
    confirm, `n` times in a row (both event queues purged afterwards)."""
    user, password = quote(vh.admin_user, safe=""), quote(vh.admin_password, safe="")
    url = f"amqp://{user}:{password}@{vh.host}:{vh.port}/{quote(vh.name, safe='')}"
    publisher = PikaPublisher([url], ORDERS_EXCHANGE, name="bench-confirm-latency")
    latencies = []
    try:
        for i in range(n + 1):
            env = order_placed(i)
            message = OutboundMessage(i, env.id, ORDER_PLACED, env.id, env.to_json_bytes())
            began = time.perf_counter()
            outcome = publisher.publish_batch([message])
            if outcome.failure is not None:
                raise RuntimeError(f"publish {i} failed: {outcome.failure}")
            if i:  # the first one also opens the connection
                latencies.append(time.perf_counter() - began)
    finally:
        publisher.close()
        vh.purge(INVENTORY_EVENTS_QUEUE, EMAIL_EVENTS_QUEUE)
    return latencies
