"""A Celery worker on quorum queues (BROKER_QUEUE_TYPE=quorum): it consumes with a per-consumer
prefetch (a global one gets 540 and the connection closes), and retries with backoff still work,
on the service's private queue only: a handler that fails transiently and then succeeds, one that
exhausts its retries into the DLQ, and what held retries cost (docs/consuming-events.md). Through
the email worker, whose transient failure is easy to cause: the SMTP sink is not listening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.common.topology import EMAIL_EVENTS_QUEUE, INVENTORY_EVENTS_QUEUE, Service, task_queue
from services.email.mails import ORDER_RECEIVED
from services.email.message import message_id
from services.email.sink.mailbox import Mailbox
from tests.integration.email.conftest import (
    SINK_READY,
    WORKER_READY,
    email_worker,
    mails_with,
    make_email_db,
    sent_row,
    sink_process,
    wait_for_mails,
)
from tests.support.broker import TestBroker, loads, x_death_reason
from tests.support.factories import order_placed_event
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, running
from tests.support.quorum import QuorumVhost

TASKS = task_queue(Service.EMAIL)
TASKS_DLQ = f"{TASKS}.dlq"


def quorum_email_worker(
    tmp: Path, vhost: QuorumVhost, db_url: str, smtp_port: int, **env: str
) -> ServiceProcess:
    return email_worker(tmp, db_url, smtp_port, **vhost.env, **env)


def consumer_of(broker: TestBroker, queue: str) -> dict[str, Any]:
    """The one consumer of `queue`, once the management API's statistics show it."""

    def probe() -> dict[str, Any] | None:
        with broker.management() as api:
            found = api.get(api.path("consumers", broker.vhost)) or []
        mine = [c for c in found if c["queue"]["name"] == queue]
        assert len(mine) <= 1, mine
        return mine[0] if mine else None

    return wait_until(probe, timeout=30, interval=0.5, message=f"a consumer of {queue}")


def channels_of(broker: TestBroker, user: str) -> list[dict[str, Any]]:
    with broker.management() as api:
        found = api.get(api.path("vhosts", broker.vhost, "channels")) or []
    return [c for c in found if c["user"] == user]


def channels_with_stats(broker: TestBroker, user: str) -> list[dict[str, Any]] | None:
    """`user`'s channels once every one carries its prefetch fields (first stats emission)."""
    channels = channels_of(broker, user)
    if channels and all("global_prefetch_count" in c for c in channels):
        return channels
    return None


def assert_no_quorum_complaint(worker: ServiceProcess) -> None:
    log = worker.log()
    assert "does not support global qos" not in log
    assert "Direct exchanges are not supported" not in log  # our retries are direct, on purpose
    assert "delayed delivery" not in log.lower()  # the step is left out


def test_a_transient_failure_is_retried_until_it_succeeds(
    quorum_vhost: QuorumVhost, tmp_path: Path
) -> None:
    b = quorum_vhost.broker
    b.purge_all()
    port = free_port()  # nothing listens here yet
    url, db = make_email_db(tmp_path)
    event = order_placed_event(email="grace@example.com")
    mid = message_id(event.id, ORDER_RECEIVED)

    with running(quorum_email_worker(tmp_path, quorum_vhost, url, port)) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        consumer = consumer_of(b, TASKS)
        assert consumer["prefetch_count"] == 2 * 4  # concurrency x WORKER_PREFETCH_MULTIPLIER
        # a channel's prefetch fields appear with its first stats emission, not at once
        channels = wait_until(
            lambda: channels_with_stats(b, f"{b.vhost}-email"),
            timeout=30,
            interval=0.5,
            message="the email worker's channels with their stats",
        )
        for channel in channels:
            assert channel["global_prefetch_count"] == 0, channel["name"]
        b.publish_event(event)
        worker.wait_for_log(rf"{event.id} .*SMTP server unreachable.*retry 3/", timeout=60)
        with running(sink_process(tmp_path, port)) as (sink,):
            sink.wait_for_log(SINK_READY, timeout=60)
            wait_for_mails(Mailbox(tmp_path / "mail"), mid)
            wait_until(lambda: sent_row(db, event.id, ORDER_RECEIVED), timeout=30)
            b.wait_empty(EMAIL_EVENTS_QUEUE, TASKS)
        assert_no_quorum_complaint(worker)

    assert len(mails_with(Mailbox(tmp_path / "mail"), mid)) == 1
    assert b.ready(TASKS_DLQ) == 0
    # the retries stayed on email's private queue: inventory got its one copy of the event
    assert b.ready(INVENTORY_EVENTS_QUEUE) == 1
    assert b.ready(task_queue(Service.INVENTORY)) == 0


def test_a_task_that_exhausts_its_retries_is_dead_lettered(
    quorum_vhost: QuorumVhost, tmp_path: Path
) -> None:
    b = quorum_vhost.broker
    b.purge_all()
    url, _db = make_email_db(tmp_path)
    event = order_placed_event(email="barbara@example.com")
    worker = quorum_email_worker(tmp_path, quorum_vhost, url, free_port(), EMAIL_RETRY_MAX="2")
    with running(worker):
        worker.wait_for_log(WORKER_READY, timeout=90)
        b.publish_event(event)
        worker.wait_for_log(rf"{event.id} .*still failing after 2 retries, dead-lettering")
        wait_until(lambda: b.ready(TASKS_DLQ) == 1, timeout=30, message="the task dead-lettered")
        assert_no_quorum_complaint(worker)
    [(props, body)] = b.drain(TASKS_DLQ)
    assert x_death_reason(props) == "rejected"
    assert props.headers["retries"] == 2
    assert loads(body)[0][0]["id"] == event.id  # the original envelope, for a replay


def test_a_retry_waiting_for_its_countdown_holds_a_prefetch_slot(
    quorum_vhost: QuorumVhost, tmp_path: Path
) -> None:
    """With one slot per worker (concurrency 1, multiplier 1) and long backoffs: the worker
    holds one retry, unacked, until it is due, and every other task waits in the queue."""
    b = quorum_vhost.broker
    b.purge_all()
    url, _db = make_email_db(tmp_path)
    worker = quorum_email_worker(
        tmp_path,
        quorum_vhost,
        url,
        free_port(),
        EMAIL_WORKER_CONCURRENCY="1",
        EMAIL_WORKER_PREFETCH_MULTIPLIER="1",
        EMAIL_RETRY_BACKOFF_SECONDS="60",
        EMAIL_RETRY_BACKOFF_MAX_SECONDS="60",
    )
    events = [order_placed_event(email=f"held{i}@example.com") for i in range(3)]
    with running(worker):
        worker.wait_for_log(WORKER_READY, timeout=90)
        for event in events:
            b.publish_event(event)
        for event in events:  # each failed once and was published again, with an ETA
            worker.wait_for_log(rf"{event.id} .*SMTP server unreachable.*retry 1/", timeout=60)

        def held_and_waiting() -> tuple[int, int] | None:
            with b.management() as api:
                q = api.queue(b.vhost, TASKS) or {}
            counts = (q.get("messages_unacknowledged"), q.get("messages_ready"))
            return counts if counts == (1, 2) else None

        wait_until(held_and_waiting, timeout=30, message="1 retry held, 2 waiting in the queue")
        assert consumer_of(b, TASKS)["prefetch_count"] == 1  # not raised for the held ETA task
