"""Shipping joins a running shop and catches up through the event log (docs/event-log.md,
"A new service catches up").

The shop first runs without shipping while 200 orders are placed and confirmed. "Without
shipping" means: the test's vhost was provisioned, then everything of shipping was taken out of
it again (tests/support/absent_service.py: its login, its queues and their DLQs, its exchanges,
its event log, their policies; email's and orders' queues for its events stay, bound to
nothing), its database does not exist, and neither its worker nor its relay runs. So the
200 `order.confirmed` went to `orders.log` (and to email), and to no queue of shipping's.

Then shipping joins as an operator adds it, with the documented commands: the vhost tool, its
schema, its two processes, a dry run, and the replay with `--first-time`, while 20 more orders
are placed. Every order is shipped once, its customer gets one "order shipped" mail, and its
timeline has one shipment step. Running the replay again without `--first-time` (every
`order.confirmed` in the log, each already handled) changes none of that.

Each check waits on a count, not a delay: the shipping worker has handled every event that
reached its queue (its /metrics), its relay has published every shipment, and email and orders
have handled every `shipment.dispatched` it published; only then are shipments, mails and
timelines counted, so an extra one would be there to count.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from services.common.db import Database
from services.common.events.shipping import ShipmentDispatched
from services.common.registry import processes_of
from services.common.topology import (
    EVENT_SUBSCRIPTIONS,
    ORDER_CONFIRMED,
    SHIPMENT_DISPATCHED,
    SHIPPING_EVENTS_QUEUE,
    SHIPPING_EXCHANGE,
    Service,
)
from services.email.mails import ORDER_SHIPPED_MAIL
from services.email.sink.mailbox import Mailbox
from services.inventory.stock import set_stock
from services.orders import models as orders
from services.orders.status import OrderStatus
from services.shipping import models as shipping
from tests.support.absent_service import ServiceObjects, present, remove
from tests.support.broker import TestBroker
from tests.support.event_log import end_of
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, REPO_ROOT
from tests.support.quorum import provisioned_vhost
from tests.support.replay_start import first_marker
from tests.support.snapshot import Snapshot
from tests.support.system import DEFAULT_PROCESSES, System, running_system
from tests.support.worker_metrics import handled

pytestmark = pytest.mark.e2e

BACKLOG = 200  # confirmed before shipping existed
DURING = 20  # placed while it catches up
SKU = "MUG-BLUE"
SHIPPING_PROCESSES = tuple(p.name for p in processes_of(Service.SHIPPING))

CHECK = ".venv/bin/python -m broker.provision check"
PROVISION = ".venv/bin/python -m broker.provision apply"
SCHEMA = ".venv/bin/python -m services.shipping.manage create-schema"
DRY_RUN = ".venv/bin/python -m broker.replay --service shipping --since 30d --first-time --dry-run"
CATCH_UP = ".venv/bin/python -m broker.replay --service shipping --since 30d --first-time"
AGAIN = ".venv/bin/python -m broker.replay --service shipping --since 30d"
REPLAYED = re.compile(rf"^replayed (\d+) event\(s\) into {re.escape(SHIPPING_EVENTS_QUEUE)} ")


@dataclass(frozen=True)
class Shop:
    vhost: TestBroker
    system: System
    shipping: ServiceObjects  # what the vhost lacks until shipping joins

    def db(self, service: Service) -> Database:
        return Database(self.system.db_url(service))


@pytest.fixture
def shop(test_broker: TestBroker, tmp_path: Path) -> Iterator[Shop]:
    queue_type = test_broker.settings.queue_type
    with provisioned_vhost(test_broker, queue_type, "test-catchup") as vhost:
        with vhost.management() as api:
            gone = remove(api, vhost.topology, Service.SHIPPING)
        others = tuple(p for p in DEFAULT_PROCESSES if p not in SHIPPING_PROCESSES)
        env = {"BROKER_VHOST": vhost.vhost}
        with running_system(tmp_path, others, extra_env=env) as system:
            # the test system makes every service's database up front: shipping has none yet
            Path(str(make_url(system.db_url(Service.SHIPPING)).database)).unlink()
            yield Shop(vhost, system, gone)


@pytest.mark.documents(CHECK, PROVISION, SCHEMA, DRY_RUN, CATCH_UP, AGAIN)
def test_shipping_joins_a_running_shop_and_catches_up_through_the_event_log(shop: Shop) -> None:
    system = shop.system
    inventory = shop.db(Service.INVENTORY)
    try:
        set_stock(inventory, {SKU: 10 * (BACKLOG + DURING)})
    finally:
        inventory.dispose()

    # 1. The shop runs without shipping: 200 orders confirmed, their events only in the log.
    backlog = _place(system, range(BACKLOG))
    confirmed = _confirmed_events(shop, backlog)
    with shop.vhost.management() as api:
        assert present(api, shop.vhost.topology, shop.shipping) == []

    # 2. Shipping joins: the vhost tool finds exactly what it lacks and makes it; then its
    # schema, its processes, and a dry run of the catch-up: the backlog's 200 order.confirmed.
    drift = _run(shop, CHECK, status=1).splitlines()
    names = set(shop.shipping.names)
    reported = {word.strip(":") for line in drift for word in line.split()}
    assert names <= reported, f"`provision check` does not report {names - reported}: {drift}"
    unrelated = [line for line in drift[:-1] if not names & {w.strip(":") for w in line.split()}]
    assert not unrelated, f"`provision check` reports more than shipping's objects: {unrelated}"
    _run(shop, PROVISION)
    assert _run(shop, CHECK).strip().endswith("in sync")
    _run(shop, SCHEMA)
    for name in SHIPPING_PROCESSES:
        system.start(name)
    for name in SHIPPING_PROCESSES:
        system.wait_ready(name)
    log = _log_of_shipping_events(shop)
    dry = _run(shop, DRY_RUN).splitlines()
    listed = [line.split()[3] for line in dry if line.startswith(f"{log}@")]
    assert sorted(listed) == sorted(confirmed), "the dry run lists other events than the backlog's"
    assert dry[-1] == (
        f"dry run: would replay {BACKLOG} event(s) into {SHIPPING_EVENTS_QUEUE} "
        f"({ORDER_CONFIRMED} {BACKLOG}); nothing sent"
    )

    # 3. The catch-up, and 20 orders placed meanwhile: ten as the replay starts (in its range
    # if they are confirmed before it marks the log's end, as they usually are, so shipping
    # gets those live and replayed), ten once it has marked the end (outside its range: live
    # only). Each of the 220 orders is shipped once.
    since = end_of(shop.vhost, log)
    with _started(shop, CATCH_UP) as replay:
        during = _place(system, range(BACKLOG, BACKLOG + DURING // 2))
        first_marker(shop.vhost, log, since)
        during |= _place(system, range(BACKLOG + DURING // 2, BACKLOG + DURING))
        out, err = replay.communicate(timeout=120)
    assert replay.returncode == 0, f"{CATCH_UP}: exit {replay.returncode}\n{out}{err}"
    caught_up = _replayed(out)
    assert BACKLOG <= caught_up <= BACKLOG + DURING // 2, out
    every = {**backlog, **during}
    after_catch_up = _settled(shop, every, shipping_handled=caught_up + DURING)

    # 4. The same replay without --first-time, now reaching every order.confirmed in the log
    # (the 20 too): each one a no-op, nothing shipped, mailed or noted again.
    again = _replayed(_run(shop, AGAIN))
    assert again == BACKLOG + DURING
    after_again = _settled(shop, every, shipping_handled=caught_up + DURING + again)
    assert after_again == after_catch_up


def _log_of_shipping_events(shop: Shop) -> str:
    """The event log of the exchange shipping subscribes to (`orders.log`)."""
    [(_, exchange, _)] = EVENT_SUBSCRIPTIONS[Service.SHIPPING]
    return shop.vhost.topology.stream_of(exchange).name


@dataclass(frozen=True)
class Shipped:
    """What the shop shows of every order's shipment, once everything has settled."""

    shipments: dict[str, tuple[str, str]]  # order id -> (tracking number, event that shipped it)
    mails: dict[str, str]  # order id -> the Message-ID of its one "order shipped" mail
    steps: dict[str, str]  # order id -> the event id of its one shipment step


def _settled(shop: Shop, placed: dict[str, str], *, shipping_handled: int) -> Shipped:
    """Wait until shipping has handled `shipping_handled` events and every shipment it made has
    reached email and orders; then check each order was shipped, mailed and noted exactly once."""
    system = shop.system
    _wait_handled(
        system, Service.SHIPPING, SHIPPING_EVENTS_QUEUE, ORDER_CONFIRMED, shipping_handled
    )
    dispatched = wait_until(
        lambda: _all_published(shop), timeout=60, message="the shipping relay to publish all"
    )
    for service in (Service.EMAIL, Service.ORDERS):
        [queue] = [q for q, x, _ in EVENT_SUBSCRIPTIONS[service] if x == SHIPPING_EXCHANGE]
        _wait_handled(system, service, queue, SHIPMENT_DISPATCHED, dispatched)
    snap = _snapshot(shop)
    assert not any(snap.unpublished.values()), snap.unpublished
    dispatched_per_order = {o: n[SHIPMENT_DISPATCHED] for o, n in snap.dispatched.items()}
    mails = {o: snap.mails[email][ORDER_SHIPPED_MAIL] for o, email in placed.items()}
    _once("shipment", snap.shipments, placed)
    _once("shipment.dispatched", dispatched_per_order, placed)
    _once(f"{ORDER_SHIPPED_MAIL} mail", {o: sum(ids.values()) for o, ids in mails.items()}, placed)
    shipments = _shipments(shop)
    return Shipped(
        {o: (s.tracking_number, s.event_id) for o, s in shipments.items()},
        {o: next(iter(ids)) for o, ids in mails.items()},
        _timeline_steps(system, shipments),
    )


def _once(what: str, counts: Mapping[str, int], placed: Mapping[str, str]) -> None:
    """Each placed order has exactly one `what`, and no other order has any."""
    wanted = dict.fromkeys(placed, 1)
    wrong = {
        o: counts.get(o, 0) for o in {*placed, *counts} if counts.get(o, 0) != wanted.get(o, 0)
    }
    sample = dict(sorted(wrong.items())[:5])
    assert not wrong, f"{len(wrong)} order(s) without exactly one {what}, e.g. {sample}"


def _timeline_steps(system: System, shipments: dict[str, shipping.Shipment]) -> dict[str, str]:
    """Each order's one shipment step, as the API shows the order: the shipment's own note."""
    steps = {}
    with httpx.Client(base_url=system.api_url, timeout=10) as http:
        for order_id, s in shipments.items():
            note = ShipmentDispatched(
                order_id=order_id,
                customer_email=s.customer_email,
                carrier=s.carrier,
                tracking_number=s.tracking_number,
                dispatched_at=s.dispatched_at,
            ).timeline_note()
            timeline = http.get(f"/orders/{order_id}").json()["timeline"]
            found = [step for step in timeline if s.tracking_number in step["what"]]
            assert [step["what"] for step in found] == [note], (order_id, timeline)
            steps[order_id] = found[0]["event_id"]
    return steps


def _place(system: System, numbers: range) -> dict[str, str]:
    """Order one SKU for each of `numbers`, each customer their own address: id -> address."""

    def place(n: int) -> tuple[str, str]:
        email = f"catchup-{n}@example.com"
        body = {"customer_email": email, "lines": [{"sku": SKU, "quantity": 1}]}
        resp = httpx.post(f"{system.api_url}/orders", json=body, timeout=30)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["id"]), email

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(place, numbers))


def _confirmed_events(shop: Shop, placed: dict[str, str]) -> list[str]:
    """Wait until every order is CONFIRMED and the orders outbox is all published (so each
    order.confirmed is in the log before shipping's queue exists); their event ids."""
    outbox = orders.OutboxMessage
    db = shop.db(Service.ORDERS)

    def done() -> list[str] | None:
        with db.transaction() as session:
            confirmed = session.scalar(
                select(func.count()).where(
                    orders.Order.id.in_(placed), orders.Order.status == OrderStatus.CONFIRMED
                )
            )
            unpublished = session.scalar(select(func.count()).where(outbox.published_at.is_(None)))
            events = session.scalars(
                select(outbox.event_id).where(outbox.event_type == ORDER_CONFIRMED)
            ).all()
        return list(events) if confirmed == len(placed) and not unpublished else None

    try:
        return wait_until(done, timeout=180, interval=0.5, message="the backlog confirmed")
    finally:
        db.dispose()


def _wait_handled(
    system: System, service: Service, queue: str, event_type: str, count: int
) -> None:
    """Wait until `service` has handled `count` such events; fail if it has handled more."""
    wait_until(
        lambda: handled(system, service, queue, event_type) >= count,
        timeout=120,
        message=lambda: (
            f"{service} to handle {count} {event_type} from {queue} "
            f"(has {handled(system, service, queue, event_type)})"
        ),
    )
    assert handled(system, service, queue, event_type) == count, f"{service}: {queue}"


def _all_published(shop: Shop) -> int | None:
    """How many events the shipping outbox holds, once the relay has published them all."""
    db = shop.db(Service.SHIPPING)
    try:
        with db.transaction() as session:
            rows = session.execute(select(shipping.OutboxMessage.published_at)).scalars().all()
    finally:
        db.dispose()
    return len(rows) if rows and all(rows) else None


def _shipments(shop: Shop) -> dict[str, shipping.Shipment]:
    db = shop.db(Service.SHIPPING)
    try:
        with db.transaction() as session:
            rows = session.scalars(select(shipping.Shipment)).all()
            session.expunge_all()
    finally:
        db.dispose()
    return {s.order_id: s for s in rows}


def _snapshot(shop: Shop) -> Snapshot:
    services = (Service.ORDERS, Service.INVENTORY, Service.EMAIL, Service.SHIPPING)
    dbs = {service: shop.db(service) for service in services}
    try:
        return Snapshot.take(
            orders_db=dbs[Service.ORDERS],
            inventory_db=dbs[Service.INVENTORY],
            email_db=dbs[Service.EMAIL],
            shipping_db=dbs[Service.SHIPPING],
            mailbox=Mailbox(shop.system.mail_dir),
        )
    finally:
        for db in dbs.values():
            db.dispose()


def _argv(command: str) -> list[str]:
    """A documented command as this test runs it: the suite's interpreter for `.venv/bin/python`."""
    argv = shlex.split(command)
    return [PYTHON, *argv[1:]] if argv[0] == ".venv/bin/python" else argv


def _env(shop: Shop) -> dict[str, str]:
    return {**os.environ, **shop.system.env}


@contextmanager
def _started(shop: Shop, command: str) -> Iterator[subprocess.Popen[str]]:
    """`command` running in the background while the block runs; killed if it still is."""
    proc = subprocess.Popen(
        _argv(command),
        cwd=REPO_ROOT,
        env=_env(shop),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _run(shop: Shop, command: str, status: int = 0) -> str:
    """Run `command` to its end; its output, once it exited with `status`."""
    done = subprocess.run(
        _argv(command),
        cwd=REPO_ROOT,
        env=_env(shop),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == status, (
        f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def _replayed(output: str) -> int:
    """N in the replay's last line, `replayed N event(s) into shipping.orders (...)`."""
    found = REPLAYED.match(output.strip().splitlines()[-1])
    assert found, output
    return int(found[1])
