"""The end-to-end scenario, against a running system (`make up` in another terminal).

    python -m scenario                 # 5 in-stock orders, one too big, one posted twice, a poison
    python -m scenario --orders 200    # a bigger run
    python -m scenario --json          # machine-readable result

It places the orders over HTTP, injects one malformed event on the `orders` exchange, follows
every order until it settles (or the deadline passes), then checks the outcome: statuses through
the API, stock levels, mails in the sink, the poison event in the right dead-letter queues, and
every working queue drained. It prints a table and exits 1 if anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass

from scenario.plan import PlannedOrder, plan_orders
from scenario.world import World
from services.common import topology as t
from services.common.cli import run_cli
from services.inventory.stock import StockLevel

TERMINAL = {"CONFIRMED", "REJECTED", "EXPIRED"}


@dataclass
class Check:
    name: str
    expected: str
    actual: str
    ok: bool


def place(world: World, order: PlannedOrder) -> None:
    headers = {"Idempotency-Key": order.idempotency_key}
    resp = world.api.post("/orders", json=order.body(), headers=headers)
    if resp.status_code != 202:
        raise SystemExit(f"POST /orders for {order.label!r}: {resp.status_code} {resp.text}")
    order.order_id = resp.json()["id"]
    if order.post_twice:
        again = world.api.post("/orders", json=order.body(), headers=headers)
        order.replayed_same_order = (
            again.status_code == 202 and again.json()["id"] == order.order_id
        )


def follow(world: World, orders: list[PlannedOrder], deadline: float, quiet: bool) -> None:
    while True:
        for order in orders:
            if order.status not in TERMINAL:
                resp = world.api.get(f"/orders/{order.order_id}")
                order.status = resp.json()["status"] if resp.status_code == 200 else "MISSING"
        counts = Counter(o.status for o in orders)
        if not quiet:
            line = "  ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            print(f"\r  following {len(orders)} orders: {line}   ", end="", file=sys.stderr)
        if all(o.status in TERMINAL for o in orders) or time.monotonic() > deadline:
            if not quiet:
                print(file=sys.stderr)
            return
        time.sleep(0.25)


def wait_for(probe: object, deadline: float) -> None:
    """Poll `probe()` until truthy or the deadline (the checks report what was seen)."""
    assert callable(probe)
    while not probe() and time.monotonic() < deadline:
        time.sleep(0.5)


def run(args: argparse.Namespace) -> tuple[list[PlannedOrder], list[Check]]:
    world = World.connect(args.api_url)
    try:
        before = world.stock()
        orders = plan_orders(before, args.orders, args.seed)
        for order in orders:
            place(world, order)
        poison_id = world.inject_poison()
        deadline = time.monotonic() + args.timeout
        follow(world, orders, deadline, args.json)
        checks = [
            *status_checks(orders),
            *replay_checks(orders),
            *stock_checks(orders, before, world.stock()),
            *mail_checks(world, orders, deadline),
            *poison_checks(world, poison_id, deadline),
            drain_check(world, deadline),
        ]
        return orders, checks
    finally:
        world.close()


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
    """Each SKU's reserved stock grew by exactly what the confirmed orders hold."""
    reserved: Counter[str] = Counter()
    for order in orders:
        if order.status == "CONFIRMED":
            for sku, qty in order.lines:
                reserved[sku] += qty
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
    return checks


def mail_checks(world: World, orders: list[PlannedOrder], deadline: float) -> list[Check]:
    """Each order's mails were sent, each exactly once."""

    def mails_complete() -> bool:
        got = world.mails_by_recipient()
        return all(set(o.expected_mails) <= set(got.get(o.email, {})) for o in orders)

    wait_for(mails_complete, deadline)
    mails = world.mails_by_recipient()
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


def poison_checks(world: World, poison_id: str, deadline: float) -> list[Check]:
    """The malformed event landed in the dead-letter queue of every queue it reached."""
    dlqs = [f"{q}.dlq" for q in (t.INVENTORY_EVENTS_QUEUE, t.EMAIL_EVENTS_QUEUE)]
    wait_for(lambda: all(poison_id in world.dead_letter_ids(q) for q in dlqs), deadline)
    checks: list[Check] = []
    for dlq in dlqs:
        found = poison_id in world.dead_letter_ids(dlq)
        checks.append(
            Check(f"poison event in {dlq}", "present", "present" if found else "absent", found)
        )
    return checks


def drain_check(world: World, deadline: float) -> Check:
    wait_for(lambda: not any(world.queue_depths().values()), deadline + 15)
    busy = {q: n for q, n in world.queue_depths().items() if n}
    return Check(
        "working queues drained",
        "all 0",
        ", ".join(f"{q}={n}" for q, n in busy.items()) or "all 0",
        not busy,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenario",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=5, help="in-stock orders to place")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for it all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-url", help="default: from ORDERS_HTTP_HOST/PORT")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def print_json(ok: bool, orders: list[PlannedOrder], checks: list[Check]) -> None:
    result = {
        "ok": ok,
        "orders": [
            {
                "label": o.label,
                "order_id": o.order_id,
                "status": o.status,
                "expected": o.expected_status,
            }
            for o in orders
        ],
        "checks": [c.__dict__ for c in checks],
    }
    print(json.dumps(result, indent=2))


def print_table(ok: bool, checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    print(f"\n{'check':<{width}}  {'expected':<34} {'actual':<34} result")
    for c in checks:
        print(f"{c.name:<{width}}  {c.expected:<34} {c.actual:<34} {'ok' if c.ok else 'FAIL'}")
    print(
        f"\n{'ALL GOOD' if ok else 'SOMETHING IS WRONG'}: "
        f"{sum(c.ok for c in checks)}/{len(checks)} checks passed"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    orders, checks = run(args)
    ok = all(c.ok for c in checks)
    if args.json:
        print_json(ok, orders, checks)
    else:
        print_table(ok, checks)
    return 0 if ok else 1


if __name__ == "__main__":
    run_cli(main)
