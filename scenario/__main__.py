"""The end-to-end scenario, against a running system (`make up` in another terminal).

    python -m scenario                 # 5 in-stock orders, one too big, one posted twice, a poison
    python -m scenario --orders 1000   # a bigger run; any size, as often as you like
    python -m scenario --json          # machine-readable result
    python -m scenario --keep-poison   # leave this run's poison event in the DLQs, to look at
    python -m scenario --clean         # remove poison events earlier runs left; nothing else

First it checks that the broker, its management API, the orders API and the inventory stock
are there; if one is not, it says which in one line, and how to start it (exit 2). Then it has
the goods its orders will hold delivered (scenario/plan.py: every SKU it orders keeps its demo
stock available, so runs never use the shop up), places the orders over HTTP (as the operator,
whose orders the per-client limit does not count), injects one malformed event on the `orders`
exchange, follows every order until it settles (or the deadline passes), and checks the
outcome: statuses through the API, stock levels, mails in the sink, what each service contributes
in its own database (scenario/contributed.py), the poison event in the right dead-letter queues,
every working queue drained. The poison event is then taken out of
the DLQs again (that message only, by its id), so a healthy system's DLQs stay at zero. It
prints a table and exits 1 if anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import httpx
from pydantic import ValidationError

from broker.admin import BrokerUnavailable
from broker.management import ManagementError
from scenario.checks import (
    Check,
    drain_check,
    mail_checks,
    poison_checks,
    replay_checks,
    service_checks,
    status_checks,
    stock_checks,
)
from scenario.plan import PlannedOrder, plan_orders, top_ups
from scenario.world import NotReady, World
from services.common.cli import run_cli

TERMINAL = {"CONFIRMED", "REJECTED", "EXPIRED"}
NOT_THERE = 2  # the exit status when the system is not there to run against


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


def prepare(world: World, args: argparse.Namespace) -> tuple[list[PlannedOrder], dict[str, int]]:
    """The run's orders, and the goods delivered so that they fit (see scenario/plan.py)."""
    world.check_ready()
    stock = world.stock()
    try:
        orders = plan_orders(stock, args.orders, args.seed)
    except ValueError as exc:
        raise NotReady(str(exc)) from exc
    delivered = top_ups(stock, orders)
    if delivered:
        world.restock(delivered)
        if not args.json:
            goods = ", ".join(f"{sku} +{qty}" for sku, qty in delivered.items())
            print(f"  goods received for this run: {goods}", file=sys.stderr)
    return orders, delivered


Outcome = tuple[list[PlannedOrder], dict[str, int], list[Check]]


def run(world: World, args: argparse.Namespace) -> Outcome:
    orders, delivered = prepare(world, args)
    before = world.stock()
    since_ns = time.time_ns()
    for order in orders:
        place(world, order)
    poison_id = world.inject_poison()
    try:
        deadline = time.monotonic() + args.timeout
        follow(world, orders, deadline, args.json)
        checks = [
            *status_checks(orders),
            *replay_checks(orders),
            *stock_checks(orders, before, world.stock()),
            *mail_checks(world, orders, since_ns, deadline),
            *service_checks(world.services, orders, deadline),
            *poison_checks(world, poison_id, deadline, args.keep_poison),
            drain_check(world, deadline),
        ]
    except BaseException:
        if not args.keep_poison:  # a run cut short leaves nothing of its own behind
            world.discard_poison([poison_id])
        raise
    return orders, delivered, checks


def clean(world: World) -> int:
    """`--clean`: remove the poison events runs left in the DLQs (and no other message)."""
    removed = world.discard_poison()
    for queue, count in removed.items():
        print(f"removed {count} scenario poison event(s) from {queue}")
    print(f"removed {sum(removed.values())} scenario poison event(s) in all")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scenario",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--orders", type=int, default=5, help="in-stock orders to place")
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait for it all (default 90, plus 0.2 per order beyond 100)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-url", help="default: from ORDERS_HTTP_HOST/PORT")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--keep-poison", action="store_true", help="leave the poison event in the DLQs"
    )
    parser.add_argument(
        "--clean", action="store_true", help="only remove poison events earlier runs left"
    )
    return parser


def print_json(ok: bool, outcome: Outcome) -> None:
    orders, delivered, checks = outcome
    result = {
        "ok": ok,
        "goods_received": delivered,
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


def explain(exc: Exception, world: World) -> str:
    """One line for a part of the system that is not there (or went away during the run)."""
    if isinstance(exc, httpx.TransportError):
        return (
            f"lost the orders API at {world.api.base_url} ({exc}); "
            "is `make up` still running? (`.venv/bin/python -m runner status`)"
        )
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.timeout is None:
        args.timeout = 90.0 + 0.2 * max(0, args.orders - 100)
    try:
        world = World.connect(args.api_url)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"scenario: settings ({problems}): `make env` creates .env", file=sys.stderr)
        return NOT_THERE
    try:
        if args.clean:
            return clean(world)
        outcome = run(world, args)
    except (NotReady, BrokerUnavailable, ManagementError, httpx.TransportError) as exc:
        print(f"scenario: {explain(exc, world)}", file=sys.stderr)
        return NOT_THERE
    finally:
        world.close()
    checks = outcome[2]
    ok = all(c.ok for c in checks)
    if args.json:
        print_json(ok, outcome)
    else:
        print_table(ok, checks)
    return 0 if ok else 1


if __name__ == "__main__":
    run_cli(main)
