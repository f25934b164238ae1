"""The scenario's checks: what it expected against what the running system shows."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from scenario.contributed import ServiceChecks
from scenario.plan import DEMO_STOCK, PlannedOrder, held_by
from scenario.world import POISONED_DLQS, World
from services.common.scenario_checks import RowsPerOrder
from services.inventory.stock import StockLevel


@dataclass
class Check:
    name: str
    expected: str
    actual: str
    ok: bool


def wait_for(probe: Callable[[], object], deadline: float) -> None:
    """Poll `probe()` until truthy or the deadline (the checks report what was seen)."""
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.5)


def status_checks(orders: list[PlannedOrder]) -> list[Check]:
    return [
        Check(
            f"status: {order.label}",
            order.expected_status,
            str(order.status),
            order.status == order.expected_status,
        )
        for order in orders
    ]


def replay_checks(orders: list[PlannedOrder]) -> list[Check]:
    """An order posted twice with one Idempotency-Key got the same order back."""
    return [
        Check(
            "idempotent replay returns the same order",
            "same id",
            "same id" if order.replayed_same_order else "different/err",
            bool(order.replayed_same_order),
        )
        for order in orders
        if order.post_twice
    ]


def stock_checks(
    orders: list[PlannedOrder], before: dict[str, StockLevel], after: dict[str, StockLevel]
) -> list[Check]:
    """Each SKU's reserved stock grew by exactly what the confirmed orders hold, and each SKU
    the run ordered still has its demo stock available for whoever comes next."""
    reserved = held_by([o for o in orders if o.status == "CONFIRMED"])
    checks: list[Check] = []
    for sku in sorted(set(reserved) | {o.lines[0][0] for o in orders}):
        delta = after[sku].reserved - before[sku].reserved
        checks.append(
            Check(
                f"stock reserved: {sku}",
                f"+{reserved[sku]}",
                f"+{delta}",
                delta == reserved[sku] and after[sku].available >= 0,
            )
        )
    short = {
        sku: after[sku].available for sku in reserved if after[sku].available < DEMO_STOCK[sku]
    }
    checks.append(
        Check(
            "demo stock still available",
            "every SKU ordered",
            ", ".join(f"{sku} only {n}" for sku, n in short.items()) or "every SKU ordered",
            not short,
        )
    )
    return checks


def mail_checks(
    world: World, orders: list[PlannedOrder], since_ns: int, deadline: float
) -> list[Check]:
    """Each order's mails were sent, each exactly once."""

    def mails_complete() -> bool:
        got = world.mails_by_recipient(since_ns)
        return all(set(o.expected_mails) <= set(got.get(o.email, {})) for o in orders)

    wait_for(mails_complete, deadline)
    mails = world.mails_by_recipient(since_ns)
    checks: list[Check] = []
    for order in orders:
        got = mails.get(order.email, Counter())
        checks.append(
            Check(
                f"mails: {order.label}",
                " + ".join(order.expected_mails),
                " + ".join(f"{k} x{v}" for k, v in sorted(got.items())) or "none",
                got == Counter(order.expected_mails),
            )
        )
    return checks


def poison_checks(world: World, poison_id: str, deadline: float, keep: bool) -> list[Check]:
    """The malformed event landed in the dead-letter queue of every queue it reached; then it
    is taken out again (unless `keep`), so that a healthy system's DLQs stay at zero. Only
    this run's poison is touched, found by its message id."""
    if keep:
        wait_for(lambda: all(world.poison_left([poison_id])[q] for q in POISONED_DLQS), deadline)
        left = world.poison_left([poison_id])
        return [_presence(dlq, left[dlq] > 0, "present (kept)") for dlq in POISONED_DLQS]
    found = world.take_poison(poison_id, deadline)
    checks = [_presence(dlq, dlq in found, "present") for dlq in POISONED_DLQS]
    left = world.poison_left([poison_id])
    checks.append(
        Check(
            "poison event removed from the DLQs",
            "0 left",
            ", ".join(f"{q}={n}" for q, n in left.items()) or "0 left",
            not left,
        )
    )
    return checks


def _presence(dlq: str, found: bool, present: str) -> Check:
    return Check(f"poison event in {dlq}", present, present if found else "absent", found)


# Statistics newer than the question take 5 to 10 s on a node with the default interval.
FRESH_STATISTICS_SECONDS = 20.0


def drain_check(world: World, deadline: float) -> Check:
    """Every working queue holds nothing, neither ready nor unacked, in statistics emitted after
    the check began (broker/queue_stats.py): older figures may predate the last messages."""
    with world.working_queues() as watch:

        def empty() -> bool:
            watch.poll()
            return all(n == 0 for n in watch.now().values())

        wait_for(empty, max(deadline, time.monotonic()) + FRESH_STATISTICS_SECONDS)
        return drained(watch.now())


def drained(messages: dict[str, int | None]) -> Check:
    """The drain check from each queue's messages, None where no fresh figure came: that queue
    is not known to be empty, so the check fails naming it."""
    busy = {q: n for q, n in messages.items() if n != 0}
    return Check(
        "working queues drained",
        "all 0",
        ", ".join(f"{q}={'no fresh statistics' if n is None else n}" for q, n in busy.items())
        or "all 0",
        not busy,
    )


def service_checks(
    services: list[ServiceChecks], orders: list[PlannedOrder], deadline: float
) -> list[Check]:
    """What the services contribute (scenario/contributed.py): each order has exactly the rows
    its expected status wants."""
    ids = {str(o.order_id): o for o in orders if o.order_id}
    return [
        check
        for service in services
        for rows in service.checks
        for check in _rows_checks(service, rows, ids, deadline)
    ]


def _rows_checks(
    service: ServiceChecks, rows: RowsPerOrder, ids: dict[str, PlannedOrder], deadline: float
) -> list[Check]:
    def complete() -> bool:
        found = service.rows(rows, ids)
        return all(found[oid] >= rows.wanted_for(o.expected_status) for oid, o in ids.items())

    wait_for(complete, deadline)
    found = service.rows(rows, ids)
    checks = []
    for oid, order in ids.items():
        wanted = rows.wanted_for(order.expected_status)
        checks.append(
            Check(
                f"{rows.name}: {order.label}",
                f"{wanted} {rows.unit}",
                f"{found[oid]} {rows.unit}",
                found[oid] == wanted,
            )
        )
    return checks
