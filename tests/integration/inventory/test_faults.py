"""The inventory worker under faults: two workers, a failing database, kill -9, SIGTERM."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from services.common.db import table_of
from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    EXPRESS_PRIORITY,
    INVENTORY_EVENTS_QUEUE,
    ORDER_PLACED,
    STOCK_RESERVED,
    Service,
    task_queue,
)
from services.inventory.models import OutboxMessage, ProcessedEvent
from tests.support.broker import TestBroker, loads, x_death_reason
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    WORKER_READY,
    answers_of,
    handled,
    inbox_count,
    inventory_worker,
    make_inventory_db,
    outcome,
    reservations_of,
    reserved,
)
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import running

TASKS_QUEUE = task_queue(Service.INVENTORY)
TASKS_DLQ = f"{TASKS_QUEUE}.dlq"


def test_two_workers_getting_the_same_event_at_once_reserve_once(
    broker: TestBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 100})
    # one unacked event per worker: the two copies of an event go to different workers
    env = {
        "INVENTORY_DATABASE_URL": url,
        "INVENTORY_WORKER_CONCURRENCY": "1",
        "INVENTORY_WORKER_PREFETCH_MULTIPLIER": "1",
    }
    workers = (
        inventory_worker(tmp_path, env, "inventory-a"),
        inventory_worker(tmp_path, env, "inventory-b"),
    )
    events = [order_placed_event(lines=[("MUG-BLUE", 1, "8.50")]) for _ in range(10)]
    with running(*workers):
        for proc in workers:
            proc.wait_for_log(WORKER_READY, timeout=90)
        for event in events:
            broker.publish_event(event)
            broker.publish_event(event)

        def outcomes() -> list[str] | None:
            logs = workers[0].log() + workers[1].log()
            found = [
                word
                for e in events
                for word in ("reserved", "duplicate event")
                for _ in re.finditer(handled(e, word), logs)
            ]
            return found if len(found) == 2 * len(events) else None

        found = wait_until(outcomes, timeout=90, message="every copy handled")
        for worker in workers:  # both took events
            assert any(re.search(handled(e, "(reserved|duplicate)"), worker.log()) for e in events)
    assert found.count("reserved") == len(events)
    assert reserved(db) == {"MUG-BLUE": len(events)}
    for event in events:
        assert reservations_of(db, event.data.order_id) == {"MUG-BLUE": 1}


def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_on_its_own_queue(
    broker: TestBroker, tmp_path: Path
) -> None:
    closed = free_port()  # nothing listens there: every attempt is an OperationalError
    env = {
        "INVENTORY_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed}/inventory",
        "INVENTORY_RETRY_MAX": "3",
    }
    event = order_placed_event()
    with running(inventory_worker(tmp_path, env)) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        broker.publish_event(event)
        email_depths: list[int] = []

        def dead_lettered() -> bool:
            email_depths.append(broker.ready(EMAIL_EVENTS_QUEUE))
            return broker.ready(TASKS_DLQ) == 1

        wait_until(dead_lettered, timeout=90, message="the task in inventory.tasks.dlq")
        log = worker.log()
        assert worker.alive()
    # the email queue got its one copy at publish time and nothing since: retries never left
    # the private queue
    assert set(email_depths) == {1}
    for n in (1, 2, 3):
        assert f"retry {n}/3" in log
    assert f"{event.id} correlation={event.correlationid} still failing after 3 retries" in log
    [(props, body)] = broker.drain(TASKS_DLQ)
    assert x_death_reason(props) == "rejected"
    assert props.headers["x-death"][0]["queue"] == TASKS_QUEUE
    assert props.headers["task"] == "inventory.reserve_stock"
    assert props.headers["retries"] == 3
    assert loads(body)[0][0]["id"] == event.id
    assert broker.messages(INVENTORY_EVENTS_QUEUE, TASKS_QUEUE) == {
        INVENTORY_EVENTS_QUEUE: 0,
        TASKS_QUEUE: 0,
    }


def test_a_retried_express_order_is_answered_in_the_express_lane(
    broker: TestBroker, tmp_path: Path
) -> None:
    """docs/priorities.md: the retry task carries the event's priority (Celery keeps it from
    retry to retry), and the handler's retry runs under it."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url)
    failing = tmp_path / "fail"
    failing.touch()
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    worker = inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url}, fail_while_exists=failing)
    with running(worker) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        broker.publish_event(event, priority=EXPRESS_PRIORITY)
        wait_until(lambda: "retry 2/" in proc.log(), timeout=90, message="two retries")
        failing.unlink()
        wait_until(
            lambda: answers_of(db, event.data.order_id) == [STOCK_RESERVED],
            timeout=90,
            message="stock.reserved after the retries",
        )
    with db.transaction() as session:
        [priority] = session.scalars(
            select(OutboxMessage.priority).where(OutboxMessage.aggregate_id == event.data.order_id)
        )
    assert priority == EXPRESS_PRIORITY


def test_kill_9_after_the_commit_and_before_the_ack_changes_stock_once(
    broker: TestBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 100, "TEE-M": 100})
    event = order_placed_event(lines=[("MUG-BLUE", 2, "8.50"), ("TEE-M", 1, "19.90")])
    paused = inventory_worker(
        tmp_path, {"INVENTORY_DATABASE_URL": url}, "inventory-paused", pause_after_commit=300
    )
    with broker.tap(TASKS_QUEUE, TASKS_QUEUE) as private_queue:
        with running(paused):
            paused.wait_for_log(WORKER_READY, timeout=90)
            broker.publish_event(event)
            wait_until(lambda: outcome(db, event.data.order_id), timeout=60, message="committed")
            paused.kill9()

        # the raw event was never acked: the broker has it again, on the event queue itself
        wait_until(
            lambda: broker.ready(INVENTORY_EVENTS_QUEUE) == 1, timeout=30, message="requeued"
        )
        with running(inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url})) as (worker,):
            worker.wait_for_log(handled(event, "duplicate event, nothing changed"), timeout=90)
            broker.wait_empty(INVENTORY_EVENTS_QUEUE)  # the redelivered event acked
        assert private_queue.count() == 0  # never a task: both deliveries were first attempts
    assert reserved(db) == {"MUG-BLUE": 2, "TEE-M": 1}
    assert broker.ready(f"{INVENTORY_EVENTS_QUEUE}.dlq") == 0


def test_sigterm_with_prefetched_messages_loses_nothing(broker: TestBroker, tmp_path: Path) -> None:
    """A warm shutdown while a first attempt runs and others wait for the pool: the running one
    finishes and is acked before the worker leaves (it never comes back); the waiting ones go
    back to the queue, and the next worker handles each once."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 100})
    events = [order_placed_event(lines=[("MUG-BLUE", 1, "8.50")]) for _ in range(6)]
    slow = inventory_worker(
        tmp_path,
        {
            "INVENTORY_DATABASE_URL": url,
            "INVENTORY_WORKER_CONCURRENCY": "1",
            "INVENTORY_WORKER_PREFETCH_MULTIPLIER": "4",
        },
        "inventory-slow",
        pause_after_commit=2,
    )
    with running(slow):
        slow.wait_for_log(WORKER_READY, timeout=90)
        for event in events:
            broker.publish_event(event)
        slow.wait_for_log("FAULT INJECTION", timeout=60)
        # one attempt is running (paused after its commit), three more wait for the pool
        assert slow.terminate(timeout=60) == 0
    decided = [e for e in events if outcome(db, e.data.order_id) is not None]
    assert 1 <= len(decided) < len(events)
    assert "Warm shutdown" in slow.log()
    # what was decided was acked on the way out; everything else is back in the queue
    assert broker.ready(INVENTORY_EVENTS_QUEUE) == len(events) - len(decided)

    with running(inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url})) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        wait_until(
            lambda: all(outcome(db, e.data.order_id) for e in events),
            timeout=60,
            message="every order decided",
        )
        broker.wait_empty(INVENTORY_EVENTS_QUEUE)
        log = worker.log()
    assert reserved(db) == {"MUG-BLUE": len(events)}
    # each handled once: nothing the first worker finished came back
    assert "duplicate event" not in log
    assert broker.ready(TASKS_DLQ) == 0
    assert broker.ready(f"{INVENTORY_EVENTS_QUEUE}.dlq") == 0


def test_a_running_worker_prunes_its_inbox_past_the_retention(
    broker: TestBroker, tmp_path: Path
) -> None:
    """The worker process runs its inbox's retention (inbox_pruning.py): records of events
    handled longer ago than RETENTION_INBOX_DAYS go, newer ones and the events it handles stay."""
    url = f"sqlite:///{tmp_path}/inventory.db"
    db = make_inventory_db(url, {"MUG-BLUE": 100})
    now = datetime.now(UTC)
    old = [
        {"consumer": "inventory", "event_id": f"old-{n}", "event_type": ORDER_PLACED}
        | {"processed_at": now - timedelta(days=40)}
        for n in range(3)
    ]
    recent = {"consumer": "inventory", "event_id": "recent", "event_type": ORDER_PLACED}
    with db.transaction() as session:
        session.execute(insert(table_of(ProcessedEvent)), [*old, recent | {"processed_at": now}])
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50")])
    env = {
        "INVENTORY_DATABASE_URL": url,
        "INVENTORY_RETENTION_INBOX_DAYS": "30",
        "INVENTORY_RETENTION_PRUNE_INTERVAL_SECONDS": "0.2",
    }
    with running(inventory_worker(tmp_path, env)) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        broker.publish_event(event)
        worker.wait_for_log(handled(event, "reserved MUG-BLUE x1"))
        wait_until(
            lambda: inbox_count(db, "old-0") + inbox_count(db, "old-2") == 0,
            timeout=30,
            message="the records older than 30 days pruned",
        )
    assert inbox_count(db, "recent") == 1
    assert inbox_count(db, event.id) == 1
