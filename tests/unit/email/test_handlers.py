"""send_order_mails with a fake SMTP sender and a real SQLite store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from services.common.db import Database
from services.common.events import Envelope
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.email.mails import ORDER_RECEIVED, MailRenderer
from services.email.message import Letterhead, OutgoingMail
from services.email.models import Status
from services.email.send import send_order_mails
from services.email.smtp import SendFailed
from services.email.store import SentEmailStore
from tests.support.email import make_email_db, sent_email
from tests.support.factories import order_placed_event


class FakeSender:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.fail_with: SendFailed | None = None

    def send(self, mail: OutgoingMail) -> None:
        if self.fail_with:
            raise self.fail_with
        self.sent.append(mail)


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@dataclass
class Mailer:
    """What `send_order_mails` is given, as the email bootstrap would give it."""

    db: Database
    store: SentEmailStore
    sender: FakeSender

    def send(self, event: Envelope[Any]) -> list[str]:
        return send_order_mails(
            event,
            self.store,
            MailRenderer(),
            self.sender,
            Letterhead("shop@example.com", "shop.test"),
            clock=lambda: datetime(2025, 1, 1, tzinfo=UTC),
        )


@pytest.fixture
def mailer(tmp_path: Path, sender: FakeSender) -> Mailer:
    db = make_email_db(f"sqlite:///{tmp_path}/e.db")
    return Mailer(db, SentEmailStore(db, lease=timedelta(seconds=60)), sender)


def test_sends_once_and_records_it(mailer: Mailer, sender: FakeSender) -> None:
    event = order_placed_event(email="ada@example.com")
    assert mailer.send(event) == [f"{ORDER_RECEIVED}: sent"]
    assert mailer.send(event) == [f"{ORDER_RECEIVED}: already sent"]
    [mail] = sender.sent
    msg = BytesParser(policy=policy.default).parsebytes(mail.data)
    assert msg["Message-ID"] == mail.message_id == f"<{event.id}.{ORDER_RECEIVED}@shop.test>"
    assert msg["To"] == mail.recipient == "ada@example.com"
    assert mail.sender == "shop@example.com"
    row = sent_email(mailer.db, event.id, ORDER_RECEIVED)
    assert row is not None
    assert row.status == Status.SENT


@pytest.mark.parametrize(("transient", "error"), [(True, TransientError), (False, PermanentError)])
def test_a_failed_send_releases_the_claim_and_is_classified(
    mailer: Mailer, sender: FakeSender, transient: bool, error: type[Exception]
) -> None:
    event = order_placed_event()
    sender.fail_with = SendFailed("4xx or 5xx from the server", transient=transient)
    with pytest.raises(error, match="from the server"):
        mailer.send(event)
    row = sent_email(mailer.db, event.id, ORDER_RECEIVED)
    assert row is not None
    assert row.status == Status.RELEASED
    sender.fail_with = None
    assert mailer.send(event) == [f"{ORDER_RECEIVED}: sent"]
    assert len(sender.sent) == 1


def test_a_live_claim_of_another_worker_means_retry_later(
    mailer: Mailer, sender: FakeSender
) -> None:
    event = order_placed_event()
    mailer.store.claim(event.id, ORDER_RECEIVED, recipient="x@example.com", message_id="<m>")
    with pytest.raises(Deferred, match="another worker is sending it"):
        mailer.send(event)
    assert sender.sent == []
