"""The email worker against an SMTP sink that is down, or that stalls while the worker is
killed: real processes, real broker. No module-wide worker here, so each test owns the queue."""

from __future__ import annotations

from pathlib import Path

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
from tests.support.broker import TestBroker
from tests.support.email import sent_email
from tests.support.factories import order_placed_event
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import running

TASKS = task_queue(Service.EMAIL)
TASKS_DLQ = f"{TASKS}.dlq"
INVENTORY_TASKS = task_queue(Service.INVENTORY)


def test_with_the_sink_down_the_worker_retries_and_the_mail_arrives_once_it_is_back(
    broker: TestBroker, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here yet
    url, db = make_email_db(tmp_path)
    event = order_placed_event(email="linus@example.com")
    mid = message_id(event.id, ORDER_RECEIVED)
    inventory_copies = broker.ready(INVENTORY_EVENTS_QUEUE)

    with running(email_worker(tmp_path, url, port)) as (worker,):
        worker.wait_for_log(WORKER_READY, timeout=90)
        broker.publish_event(event)
        worker.wait_for_log(rf"{event.id} .*SMTP server unreachable.*retry 3/", timeout=60)
        with running(sink_process(tmp_path, port)) as (sink,):
            sink.wait_for_log(SINK_READY, timeout=60)
            [mail] = wait_for_mails(Mailbox(tmp_path / "mail"), mid)
            wait_until(lambda: sent_row(db, event.id, ORDER_RECEIVED), timeout=30)
            broker.wait_empty(EMAIL_EVENTS_QUEUE, TASKS)

    assert mail.header("To") == "linus@example.com"
    assert len(mails_with(Mailbox(tmp_path / "mail"), mid)) == 1
    # retries went to email.tasks only: inventory's queues got the one original copy, no more
    assert broker.ready(INVENTORY_EVENTS_QUEUE) == inventory_copies + 1
    assert broker.ready(INVENTORY_TASKS) == 0
    assert broker.ready(TASKS_DLQ) == 0


def test_kill_9_during_a_send_loses_nothing_and_duplicates_at_most_once(
    broker: TestBroker, tmp_path: Path
) -> None:
    """The sink stores the first mail and then stalls before its 250: the worker is killed while
    it waits. The claim's lease (3 s here) runs out, the redelivered task takes it over and sends
    again with the same Message-ID: the documented one-duplicate window."""
    port = free_port()
    url, db = make_email_db(tmp_path)
    mailbox = Mailbox(tmp_path / "mail")
    event = order_placed_event(email="ada@example.com")
    mid = message_id(event.id, ORDER_RECEIVED)
    sink = sink_process(tmp_path, port, "--stall-seconds", "120", "--stall-limit", "1")

    with running(sink):
        sink.wait_for_log(SINK_READY, timeout=60)
        with running(email_worker(tmp_path, url, port, name="email-worker-1")) as (first,):
            first.wait_for_log(WORKER_READY, timeout=90)
            broker.publish_event(event)
            sink.wait_for_log(r"stalling 120\.0s before accepting")
            first.kill9()
        assert len(mails_with(mailbox, mid)) == 1
        row = sent_email(db, event.id, ORDER_RECEIVED)
        assert row is not None
        assert row.status == "claimed"

        with running(email_worker(tmp_path, url, port, name="email-worker-2")) as (second,):
            second.wait_for_log(WORKER_READY, timeout=90)
            second.wait_for_log(rf"{event.id} .*taken over from a worker that died mid-send")
            wait_until(lambda: sent_row(db, event.id, ORDER_RECEIVED), timeout=60)
            broker.wait_empty(EMAIL_EVENTS_QUEUE, TASKS)

    mails = mails_with(mailbox, mid)
    assert len(mails) == 2  # the one duplicate, recognisable by its Message-ID
    assert {m.header("Message-ID") for m in mails} == {mid}
    assert mails[0].part("plain") == mails[1].part("plain")
    assert broker.ready(TASKS_DLQ) == 0
