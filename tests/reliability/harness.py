"""One fault scenario: the whole system on the private node (or on a cluster), a stream of
orders, one fault, then drain, stop and audit the books (tests/support/books.py).

    with fault_run("kill -9 inventory worker", fault="...") as run:
        run.start_traffic()
        run.at(0.3)                # 30 % of the orders accepted (the API's 202s)
        ...inject the fault...
        run.cleared()              # the fault is over: recovery time starts here
        run.finish()               # drain, stop, audit; fails the test with the books

A run that is left without `finish()` fails the test: its books were never audited.

The books of every run are appended to the `--reliability-report` file when one is given
(`python -m tests.reliability.report` turns it into docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

import pytest
from sqlalchemy import func, select

from services.common.catalogue import DEMO_CATALOGUE
from services.common.db import Database
from services.common.topology import WORKER_SERVICES, Service, task_queue
from services.email.models import SentEmail, Status
from services.email.sink.mailbox import Mailbox
from services.inventory.stock import set_stock
from services.orders.models import Order
from services.orders.status import OrderStatus
from tests.support.books import Books, audit, audit_queues, drained, expected_mail_count
from tests.support.broker import TestBroker
from tests.support.polling import ConditionTimeout, wait_until
from tests.support.snapshot import Snapshot, bare
from tests.support.system import DEFAULT_PROCESSES, System, running_system
from tests.support.traffic import OrderStream, PlacedOrder, plan_orders

SOLD_OUT = next(item.sku for item in DEMO_CATALOGUE if item.initial_stock == 0)
PLENTY = tuple(item.sku for item in DEMO_CATALOGUE if item.sku != SOLD_OUT)
HARNESS_ENV = {
    # Orders must not time out while a fault is on: expiry has its own tests (tests/e2e).
    "ORDERS_PENDING_TIMEOUT_SECONDS": "3600",
}


class BrokerTarget(Protocol):
    """Where the system's broker is: the private node, or a cluster (on_cluster.py)."""

    def broker_env(self) -> dict[str, str]: ...


@dataclass
class RunConfig:
    orders: int
    seed: int
    report: Path | None

    @classmethod
    def from_options(cls, config: pytest.Config) -> RunConfig:
        return cls(
            orders=config.getoption("--orders"),
            seed=config.getoption("--reliability-seed"),
            report=config.getoption("--reliability-report"),
        )


@dataclass
class FaultRun:
    scenario: str
    fault: str
    node: BrokerTarget
    broker: TestBroker
    tmp: Path
    config: RunConfig
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: tuple[str, ...] = DEFAULT_PROCESSES
    doubled: tuple[str, ...] = ()  # processes that run twice (a second instance, `<name>-2`)
    stream_seconds: float = 5.0  # a fault that takes long to put in needs a longer stream
    system: System = field(init=False)
    stream: OrderStream = field(init=False)
    _stack: ExitStack = field(default_factory=ExitStack)
    _cleared_at: float | None = None
    _started_at: float = 0.0
    _finished: bool = False
    _resendable: set[str] = field(default_factory=set)
    fault_points: list[tuple[int, int]] = field(default_factory=list)  # (wanted, settled)

    def __enter__(self) -> FaultRun:
        self.broker.purge_all()
        self.system = self._stack.enter_context(
            running_system(
                self.tmp,
                processes=self.processes,
                extra_env={**self.node.broker_env(), **HARNESS_ENV, **self.extra_env},
            )
        )
        for name in self.doubled:
            self.system.start(name, instance=f"{name}-2")
        for name in self.doubled:
            self._wait_second(name)
        inventory_db = Database(self.system.db_url("inventory"))
        set_stock(inventory_db, {**{sku: 10**7 for sku in PLENTY}, SOLD_OUT: 0})
        inventory_db.dispose()
        orders = plan_orders(
            self.config.orders,
            seed=self.config.seed,
            plenty=PLENTY,
            sold_out=SOLD_OUT,
            run=uuid.uuid4().hex[:6],
        )
        # About `stream_seconds` of traffic at the default size; bigger runs at up to 50 orders/s.
        rate = min(max(self.config.orders, 20) / self.stream_seconds, 50.0)
        self.stream = OrderStream(self.system.api_url, orders, rate=rate)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if hasattr(self, "stream"):
            self.stream.release()  # a held client thread would keep the interpreter alive
        self._stack.close()
        if exc_type is None and not self._finished:
            raise AssertionError(f"[{self.scenario}] the run ended without finish(): no books")

    def _wait_second(self, name: str) -> None:
        if name.endswith("-relay"):  # on standby while the first one holds the outbox's lease
            self.system.procs[f"{name}-2"].wait_for_log(r"relay running", timeout=90)
        else:
            self.system.wait_ready(f"{name}-2")

    def start_traffic(self, hold_at: float | None = None) -> None:
        """Start the stream; with `hold_at`, the orders from that fraction on wait for
        `hold_at()`/`release()` (a fault that takes seconds to put in then finds orders still to
        come)."""
        self._started_at = time.monotonic()
        self.hold_at(hold_at)
        self.stream.start()

    def hold_at(self, fraction: float | None) -> None:
        self.stream.hold_from(None if fraction is None else self._count(fraction))

    def release(self) -> None:
        self.stream.release()

    def at(self, fraction: float, timeout: float = 180.0) -> None:
        """Wait until `fraction` of the orders were accepted by the API. The outbox gives a 202
        with no broker at all: a fault timed on this may find nothing in flight in the broker."""
        self.stream.wait_accepted(self._count(fraction), timeout=timeout)

    def at_settled(self, fraction: float, timeout: float = 180.0) -> None:
        """Wait until `fraction` of the orders left PENDING: their `order.placed` was relayed and
        consumed, and inventory's answer relayed and consumed back. Fails if every order had
        already settled: a fault put in then would meet no traffic in the broker."""
        wanted = self._count(fraction)
        orders_db = Database(self.system.db_url("orders"))
        try:
            wait_until(
                lambda: settled_orders(orders_db) >= wanted,
                timeout=timeout,
                interval=0.1,
                message=lambda: f"{wanted} orders settled (so far {settled_orders(orders_db)})",
            )
            settled = settled_orders(orders_db)
        finally:
            orders_db.dispose()
        assert settled < self.config.orders, (
            f"[{self.scenario}] all {settled} orders had settled before the fault went in"
        )
        self.fault_points.append((wanted, settled))

    def _count(self, fraction: float) -> int:
        return max(1, int(self.config.orders * fraction))

    def cleared(self) -> None:
        self._cleared_at = time.monotonic()

    def note_mails_in_flight(self) -> None:
        """Call right after the email worker was killed or cut off. The mails it had claimed and
        not yet recorded as sent are the only ones that may go out a second time (the window of
        docs/email.md); any other second copy is counted as a duplicate."""
        email_db = Database(self.system.db_url("email"))
        try:
            with email_db.transaction() as session:
                claimed = select(SentEmail.message_id).where(SentEmail.status == Status.CLAIMED)
                self._resendable.update(bare(mid) for mid in session.scalars(claimed))
        finally:
            email_db.dispose()

    def snapshot(self) -> Snapshot:
        dbs = {service: Database(self.system.db_url(service)) for service in Service}
        try:
            return Snapshot.take(
                dbs[Service.ORDERS],
                dbs[Service.INVENTORY],
                dbs[Service.EMAIL],
                dbs[Service.SHIPPING],
                Mailbox(self.system.mail_dir),
            )
        finally:
            for db in dbs.values():
                db.dispose()

    def finish(
        self,
        *,
        expected_dlq: dict[str, int] | None = None,
        drain_timeout: float | None = None,
        before_settle: Callable[[], None] | None = None,
    ) -> Books:
        """Wait until every order has its effects, then (after `before_settle`, for a fault that
        still puts messages in the queues once the outboxes are empty) until the working queues
        hold nothing, stop everything and audit."""
        self._finished = True
        self.stream.release()
        placed = self.stream.join()
        if self._cleared_at is None:
            self.cleared()
        books = Books(self.scenario, self.fault, orders=len(placed))
        accepted = [o for o in placed if o.order_id is not None]
        books.unexpected.extend(
            f"order {o.number}: never accepted ({o.attempts} tries, last: {o.error})"
            for o in placed
            if o.order_id is None
        )
        timeout = drain_timeout or 120 + self.config.orders / 5
        try:
            wait_until(
                lambda: drained(self.snapshot(), accepted),
                timeout=timeout,
                interval=0.5,
                message=lambda: self._progress(accepted),
            )
        except ConditionTimeout:
            self._dump_worker_stacks()
            raise
        assert self._cleared_at is not None
        for wanted, settled in self.fault_points:  # traffic through the broker on both sides
            assert 0 < wanted <= settled < len(accepted), (
                f"[{self.scenario}] a fault went in with {settled} of {len(accepted)} orders "
                f"settled ({wanted} wanted)"
            )
        books.recovery_seconds = round(time.monotonic() - self._cleared_at, 1)
        if before_settle is not None:
            before_settle()
        self._settle()
        self.system.stop_all()  # nothing moves between the queues any more: final counts
        audit(books, self.snapshot(), accepted, resendable=frozenset(self._resendable))
        audit_queues(books, self.broker, expected_dlq or {})
        books.duration_seconds = round(time.monotonic() - self._started_at, 1)
        self._report(books)
        assert books.ok, books.summary()
        return books

    def _settle(self) -> None:
        """Drained means the effects are in. Wait for the messages still in flight too (a retry
        or a duplicate waiting for its countdown, unacked): they must run and find nothing to do.
        Event queues before task queues: the order in which a message moves between them."""
        topology = self.broker.topology
        working = [q.name for q in topology.queues if q.owner is not None]
        tasks = {task_queue(service) for service in WORKER_SERVICES}
        self.broker.wait_empty(*sorted(working, key=lambda name: name in tasks), timeout=180)

    def _dump_worker_stacks(self) -> None:
        """Stuck? Celery's SIGUSR1 handler writes every thread's stack into the worker's log."""
        for name, proc in self.system.procs.items():
            if "worker" in name and proc.alive():
                os.kill(proc.pid, signal.SIGUSR1)
                with suppress(ConditionTimeout, AssertionError):
                    proc.wait_for_log(r"=======", timeout=5)
                print(f"--- {name} (stacks at the end) ---\n{proc.log()[-6000:]}")

    def _progress(self, accepted: list[PlacedOrder]) -> str:
        snap = self.snapshot()
        waiting = [o for o in accepted if snap.statuses.get(str(o.order_id)) != o.expected_status]
        return (
            f"{len(waiting)} of {len(accepted)} orders not in their final status "
            f"(e.g. {[(o.number, snap.statuses.get(str(o.order_id))) for o in waiting[:5]]}), "
            f"unpublished {snap.unpublished}, mails {snap.mail_count}/"
            f"{expected_mail_count(accepted)}"
        )

    def _report(self, books: Books) -> None:
        print(books.summary())
        if self.config.report is not None:
            self.config.report.parent.mkdir(parents=True, exist_ok=True)
            with self.config.report.open("a") as fh:
                fh.write(json.dumps(books.to_json()) + "\n")


def settled_orders(orders_db: Database) -> int:
    """Orders that are no longer PENDING."""
    with orders_db.transaction() as session:
        query = select(func.count()).select_from(Order).where(Order.status != OrderStatus.PENDING)
        return int(session.scalar(query) or 0)
