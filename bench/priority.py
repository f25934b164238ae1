"""Stage 12 (opt-in, `--only priority`), priority lanes: how early express orders are decided
behind a backlog of standard ones (docs/priorities.md).

On each node and queue type of `NODES` (classic queues on the machine's RabbitMQ 3.10 node,
quorum queues on the RabbitMQ 4.0 node of broker/ensure-rabbitmq4.sh), in a throwaway vhost:
the orders API and relay run, inventory's worker does not. `standard` orders are placed through
the API and wait in `inventory.orders`; then `express` ones are placed and wait behind them.
Inventory's worker starts, with the defaults `make up` uses (its prefetch included), and decides
every order. The position of a decision is its place in commit order, which is the order of
inventory's outbox rows (`stock.reserved` / `stock.rejected`, one per order). For each express
order: how many standard orders were decided before it. The goal: every express order decided
before `GOAL_SHARE` of the standard ones.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench import procs
from bench.dbpeek import Peek
from bench.http_api import ORDER_BODY
from bench.report import Report, Row
from bench.stats import Spread
from bench.vhost import BenchVhost, sibling_vhost
from services.common.topology import (
    INVENTORY_EVENTS_QUEUE,
    STOCK_REJECTED,
    STOCK_RESERVED,
    QueueType,
)
from tests.support.system import System

GOAL_SHARE = 0.9
OUTBOX_SQL = "SELECT aggregate_id, event_type FROM outbox ORDER BY id"
DECISIONS = (STOCK_RESERVED, STOCK_REJECTED)


@dataclass(frozen=True)
class Node:
    """A RabbitMQ node to run on, and the queue type its vhost gets."""

    label: str
    queue_type: QueueType
    port: int
    management_url: str


def nodes() -> tuple[Node, ...]:
    """The 3.10 node of BROKER_PORT (classic), the 4.0 node of RABBITMQ4_PORT (quorum: the
    names and defaults of broker/ensure-rabbitmq4.sh)."""
    from services.common.settings import BrokerSettings

    here = BrokerSettings()
    four = int(os.environ.get("RABBITMQ4_PORT", "5673"))
    four_mgmt = int(os.environ.get("RABBITMQ4_MANAGEMENT_PORT", "15673"))
    return (
        Node("classic, RabbitMQ 3.10", QueueType.CLASSIC, here.port, here.management_url),
        Node("quorum, RabbitMQ 4.0", QueueType.QUORUM, four, f"http://127.0.0.1:{four_mgmt}"),
    )


@dataclass(frozen=True)
class PrioritySizes:
    standard: int = 1_000
    express: int = 10
    runs: int = 1


@dataclass
class PriorityResult:
    sizes: PrioritySizes
    # node label -> per run, the standard orders decided before each express one, in order
    ahead: dict[str, list[list[int]]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)  # node -> drain per run

    def worst(self, node: str) -> Spread:
        """Per run: standard orders decided before the last express one."""
        return Spread.of([max(run) for run in self.ahead.get(node, [])])

    def met(self, node: str) -> bool:
        limit = GOAL_SHARE * self.sizes.standard
        runs = self.ahead.get(node, [])
        return bool(runs) and all(max(run) < limit for run in runs)


def priority_stage(
    tmp: Path, sizes: PrioritySizes, progress: Callable[[str], None]
) -> PriorityResult:
    result = PriorityResult(sizes)
    for node in nodes():
        with on_node(node), sibling_vhost(node.queue_type) as vh:
            env = {**vh.env, **node_env(node)}
            with procs.system(tmp / f"priority-{node.queue_type.value}", env) as sys_:
                procs.start(sys_, "orders-api", "orders-relay")
                for run in range(1, sizes.runs + 1):
                    progress(f"stage 12: priority lanes, {node.label}, run {run} of {sizes.runs}")
                    ahead, seconds = one_run(vh, sys_, sizes)
                    result.ahead.setdefault(node.label, []).append(ahead)
                    result.seconds.setdefault(node.label, []).append(seconds)
    return result


def node_env(node: Node) -> dict[str, str]:
    return {"BROKER_PORT": str(node.port), "BROKER_MANAGEMENT_URL": node.management_url}


@contextmanager
def on_node(node: Node) -> Iterator[None]:
    """This process's broker settings point at `node` (the vhost tool reads them) meanwhile."""
    saved = {k: os.environ.get(k) for k in node_env(node)}
    os.environ.update(node_env(node))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def one_run(vh: BenchVhost, sys_: System, sizes: PrioritySizes) -> tuple[list[int], float]:
    """Standard orders queued, express ones behind them, then inventory decides them all.
    Returns the standard orders decided before each express one, and the drain's seconds."""
    peek = Peek(sys_.db_url("inventory"))
    try:
        before = len(_decisions(peek))
        queued = vh.depth(INVENTORY_EVENTS_QUEUE)
        with httpx.Client(base_url=sys_.api_url, timeout=30) as http:
            _place(http, sizes.standard, express=False)
            _wait(lambda: vh.depth(INVENTORY_EVENTS_QUEUE) >= queued + sizes.standard, "standard")
            express = set(_place(http, sizes.express, express=True))
        total = sizes.standard + sizes.express
        _wait(lambda: vh.depth(INVENTORY_EVENTS_QUEUE) >= queued + total, "express")
        began = time.monotonic()
        procs.start(sys_, "inventory-worker")
        try:
            _wait(lambda: len(_decisions(peek)) >= before + total, "decisions")
        finally:
            procs.stop(sys_, "inventory-worker")
        seconds = time.monotonic() - began
        decided = _decisions(peek)[before:]
    finally:
        peek.close()
    ahead, standard_so_far = [], 0
    for order_id in decided:
        if order_id in express:
            ahead.append(standard_so_far)
        else:
            standard_so_far += 1
    return ahead, seconds


def _decisions(peek: Peek) -> list[str]:
    """The orders inventory has decided, in commit order (its outbox's id order)."""
    return [order_id for order_id, event_type in peek.rows(OUTBOX_SQL) if event_type in DECISIONS]


def _place(http: httpx.Client, n: int, express: bool) -> list[str]:
    body = json.dumps({**json.loads(ORDER_BODY), "express": express})
    ids = []
    for _ in range(n):
        answer = http.post("/orders", content=body, headers={"Content-Type": "application/json"})
        answer.raise_for_status()
        ids.append(str(answer.json()["id"]))
    return ids


def _wait(done: Callable[[], bool], what: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"priority stage: {what} not there after {timeout:.0f} s")
        time.sleep(0.2)


def priority_rows(report: Report, res: PriorityResult) -> None:
    s = res.sizes
    goal = f"< {GOAL_SHARE * s.standard:.0f}"
    for node in res.ahead:
        report.add(
            Row(
                f"12 priority {node}",
                f"standard orders decided before the last of {s.express} express "
                f"(placed behind {s.standard} standard)",
                "orders",
                res.worst(node),
                goal=goal,
                met=res.met(node),
            )
        )
        report.add(
            Row(
                f"12 priority {node}",
                f"inventory's drain of the {s.standard + s.express}",
                "s",
                Spread.of(res.seconds[node]),
            )
        )
        for i, run in enumerate(res.ahead[node]):
            report.notes.append(
                f"{node}, run {i + 1}: standard orders decided before each express one, in "
                f"order: {', '.join(map(str, run))}"
            )


def priority_settings(s: PrioritySizes) -> str:
    return (
        f"priority: {s.standard} standard orders placed through the API with inventory's worker "
        f"stopped, then {s.express} express ones; the worker started with `make up`'s defaults; "
        f"{s.runs} run(s) per node: " + "; ".join(f"{n.label} on port {n.port}" for n in nodes())
    )
