"""A first attempt that fails transiently (tested through the inventory worker, the simplest
service on the shared worker): its retry goes to the private task queue only, and while that
retry cannot be published the event is kept, never acked, never lost, never dead-lettered, and
the worker backs off instead of spinning."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    INVENTORY_EVENTS_QUEUE,
    Service,
    task_queue,
)
from tests.support.broker import TestBroker, loads
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    WORKER_READY,
    handled,
    inventory_worker,
    make_inventory_db,
    reserved,
)
from tests.support.polling import wait_until
from tests.support.processes import running

TASKS = task_queue(Service.INVENTORY)


@contextmanager
def private_queue_unbound(broker: TestBroker) -> Iterator[None]:
    """Remove the binding behind the private task queue (as the admin), restore it after."""
    with broker.channel() as ch:
        ch.queue_unbind(TASKS, TASKS, TASKS)
    try:
        yield
    finally:
        with broker.channel() as ch:
            ch.queue_bind(TASKS, TASKS, TASKS)


def test_a_retry_that_cannot_be_published_keeps_the_event_until_it_can(
    broker: TestBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 10})
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    failing = tmp_path / "database-down"
    failing.touch()
    email_copies = broker.ready(EMAIL_EVENTS_QUEUE)
    # quick retries (0.1 to 0.5 s), enough of them to outlast the test's checks
    env = {"INVENTORY_DATABASE_URL": url, "INVENTORY_RETRY_MAX": "1000"}
    worker = inventory_worker(tmp_path, env, fail_while_exists=failing)
    with ExitStack() as stack, running(worker):
        worker.wait_for_log(WORKER_READY, timeout=90)
        with private_queue_unbound(broker):
            broker.publish_event(event)
            # a mandatory publish without a route is returned, so its confirm is no success
            worker.wait_for_log(
                rf"order.placed {event.id} .*its retry could not be published .*3 in a row\)",
                timeout=60,
            )
            assert "NO_ROUTE" in worker.log()
            assert broker.ready(f"{INVENTORY_EVENTS_QUEUE}.dlq") == 0
            # (a copy of the retries is taken from here on: a queue of the test's own, bound
            # beside the private one, would give the retry a route)
            retries = stack.enter_context(broker.tap(TASKS, TASKS))
        # bound again: the next first attempt's retry goes through, and the event is acked
        wait_until(lambda: retries.count() >= 1, timeout=60, message="a retry published")
        broker.wait_empty(INVENTORY_EVENTS_QUEUE)
        failing.unlink()
        worker.wait_for_log(handled(event, "reserved MUG-BLUE x1"), timeout=60)
        broker.wait_empty(TASKS)
        delays = [
            float(d)
            for d in re.findall(r"\d+ in a row\); requeueing the event in ([\d.]+)s", worker.log())
        ]
        published = retries.take()
    assert delays[:3] == sorted(delays[:3])  # it backs off rather than spinning
    assert reserved(db) == {"MUG-BLUE": 1}
    assert broker.ready(f"{TASKS}.dlq") == 0
    # the first retry is a Celery task on the private exchange, carrying the event as published
    props, body = published[0]
    assert props.headers["task"] == "inventory.reserve_stock"
    assert props.headers["retries"] == 1
    assert loads(body)[0][0]["id"] == event.id
    # and nothing of it reached another service: the email queue got its one copy, no more
    assert broker.ready(EMAIL_EVENTS_QUEUE) == email_copies + 1
