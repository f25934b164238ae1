"""The email worker as a real process, fed through the real `orders` exchange, sending to the
real sink (also a process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.common.db import Database
from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    Service,
    task_queue,
)
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
from tests.support.broker import TestBroker, x_death_reason
from tests.support.factories import order_placed_event
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, running

TASKS = task_queue(Service.EMAIL)
TASKS_DLQ = f"{TASKS}.dlq"
EVENTS_DLQ = f"{EMAIL_EVENTS_QUEUE}.dlq"


@dataclass
class MailSystem:
    worker: ServiceProcess
    sink: ServiceProcess
    mailbox: Mailbox
    db: Database


@pytest.fixture(scope="module")
def mail_system(
    test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MailSystem]:
    """A sink that refuses `refused@...` with 550, and one worker; each test uses its own events."""
    tmp = tmp_path_factory.mktemp("email")
    port = free_port()
    url, db = make_email_db(tmp)
    sink = sink_process(tmp, port, "--refuse", r"^refused@")
    worker = email_worker(tmp, url, port)
    with running(sink, worker):
        sink.wait_for_log(SINK_READY, timeout=60)
        worker.wait_for_log(WORKER_READY, timeout=90)
        yield MailSystem(worker, sink, Mailbox(tmp / "mail"), db)


def test_order_placed_sends_one_mail_even_when_published_twice(
    broker: TestBroker, mail_system: MailSystem
) -> None:
    event = order_placed_event(email="grace@example.org", lines=[("MUG-BLUE", 3, "8.50")])
    mid = message_id(event.id, ORDER_RECEIVED)

    broker.publish_event(event)
    broker.publish_event(event)

    [mail] = wait_for_mails(mail_system.mailbox, mid)
    mail_system.worker.wait_for_log(rf"{event.id} .*mail {ORDER_RECEIVED}: already sent")
    broker.wait_empty(EMAIL_EVENTS_QUEUE, TASKS)
    assert len(mails_with(mail_system.mailbox, mid)) == 1
    assert mail.header("To") == "grace@example.org"
    assert mail.header("X-Sink-Envelope-To") == "<grace@example.org>"
    assert mail.header("Subject") == f"Order {event.data.order_id} received"
    assert mail.header("Message-ID") == f"<{event.id}.{ORDER_RECEIVED}@shopflow>"
    assert "MUG-BLUE" in mail.part("plain")
    assert "Total: 25.50 EUR" in mail.part("plain")
    assert "25.50 EUR" in mail.part("html")
    row = sent_row(mail_system.db, event.id, ORDER_RECEIVED)
    assert row is not None
    assert row.message_id == mid
    assert row.recipient == "grace@example.org"
    assert broker.ready(TASKS_DLQ) == broker.ready(f"{EMAIL_EVENTS_QUEUE}.dlq") == 0


def test_a_5xx_dead_letters_the_event_at_once_with_the_reason(
    broker: TestBroker, mail_system: MailSystem
) -> None:
    """A permanent failure on the first attempt: the raw event itself goes to the event queue's
    DLQ, never retried, and the log says why."""
    event = order_placed_event(email="refused@example.org")

    broker.publish_event(event)

    wait_until(lambda: broker.ready(EVENTS_DLQ) == 1, timeout=60, message="one dead letter")
    [(props, body)] = broker.drain(EVENTS_DLQ)
    assert x_death_reason(props) == "rejected"
    assert props.headers["x-death"][0]["queue"] == EMAIL_EVENTS_QUEUE
    assert json.loads(body)["id"] == event.id  # the event as published, plain JSON
    assert broker.ready(TASKS_DLQ) == 0
    log = mail_system.worker.wait_for_log(
        rf"{event.id} .*failed permanently, dead-lettering: .*refused@example.org refused: 550"
    )
    assert "recipient refused by the sink" in log.string
    assert f"{event.id} correlation={event.correlationid} failed (" not in mail_system.worker.log()
    assert mail_system.mailbox.paths() == [] or not mails_with(
        mail_system.mailbox, message_id(event.id, ORDER_RECEIVED)
    )
    assert sent_row(mail_system.db, event.id, ORDER_RECEIVED) is None
