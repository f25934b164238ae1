"""The SMTP sender against the real sink (aiosmtpd in this process) and its test modes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.email.mails import ORDER_RECEIVED, MailRenderer
from services.email.message import Letterhead, OutgoingMail, build_message, message_id
from services.email.sink.config import SinkSettings
from services.email.sink.mailbox import Mailbox
from services.email.sink.server import SinkHandler, build_controller
from services.email.smtp import SendFailed, SmtpConfig, SmtpSender
from tests.support.factories import order_placed_event
from tests.support.ports import free_port


def _message(email: str = "ada@example.com") -> tuple[str, OutgoingMail]:
    event = order_placed_event(email=email)
    mail = MailRenderer().render(ORDER_RECEIVED, event)
    mid = message_id(event.id, ORDER_RECEIVED)
    letterhead = Letterhead("shop@example.com", "shopflow")
    return mid, build_message(mail, letterhead, message_id=mid, date=event.time)


@pytest.fixture
def sink(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Controller]:
    modes = getattr(request, "param", {})
    settings = SinkSettings(host="127.0.0.1", port=free_port(), dir=tmp_path / "mail", **modes)
    controller = build_controller(settings)
    controller.start()
    yield controller
    controller.stop()


def sender_for(controller: Controller, timeout: float = 10.0) -> SmtpSender:
    return SmtpSender(SmtpConfig(host="127.0.0.1", port=controller.port, timeout=timeout))


def test_a_mail_arrives_in_the_sink_folder(sink: Controller, tmp_path: Path) -> None:
    mid, msg = _message("grace@example.org")
    sender_for(sink).send(msg)
    [stored] = Mailbox(tmp_path / "mail").mails()
    assert stored.header("Message-ID") == mid
    assert stored.header("To") == "grace@example.org"
    assert stored.header("X-Sink-Envelope-To") == "<grace@example.org>"
    assert "Total: 36.90 EUR" in stored.part("plain")
    assert "<table>" in stored.part("html")


def test_an_address_that_is_not_ascii_goes_out_with_smtputf8(
    sink: Controller, tmp_path: Path
) -> None:
    mid, mail = _message("zoë@exämple.com")
    assert mail.smtputf8
    sender_for(sink).send(mail)  # the sink (aiosmtpd) offers SMTPUTF8
    [stored] = Mailbox(tmp_path / "mail").mails()
    assert stored.header("Message-ID") == mid
    assert stored.header("To") == "zoë@exämple.com"
    assert stored.header("X-Sink-Envelope-To") == "<zoë@exämple.com>"
    assert "Total: 36.90 EUR" in stored.part("plain")


def test_a_server_without_smtputf8_never_gets_a_mail_to_an_address_that_is_not_ascii(
    tmp_path: Path,
) -> None:
    settings = SinkSettings(host="127.0.0.1", port=free_port(), dir=tmp_path / "mail")
    handler = SinkHandler(Mailbox(settings.dir), settings)
    controller = Controller(
        handler, hostname="127.0.0.1", port=settings.port, enable_SMTPUTF8=False
    )
    controller.start()
    try:
        with pytest.raises(SendFailed) as failure:
            sender_for(controller).send(_message("zoë@exämple.com")[1])
    finally:
        controller.stop()
    assert not failure.value.transient
    assert "SMTPUTF8" in failure.value.reason
    assert Mailbox(tmp_path / "mail").paths() == []


@pytest.mark.parametrize("sink", [{"refuse": r"^nobody@"}], indirect=True)
def test_a_refused_recipient_is_permanent_with_the_server_reason(
    sink: Controller, tmp_path: Path
) -> None:
    _, msg = _message("nobody@example.com")
    with pytest.raises(SendFailed) as failure:
        sender_for(sink).send(msg)
    assert not failure.value.transient
    assert "nobody@example.com refused: 550 5.1.1" in failure.value.reason
    assert "recipient refused by the sink" in failure.value.reason
    assert Mailbox(tmp_path / "mail").paths() == []


@pytest.mark.parametrize("sink", [{"tempfail": True}], indirect=True)
def test_a_451_is_transient(sink: Controller, tmp_path: Path) -> None:
    _, msg = _message()
    with pytest.raises(SendFailed) as failure:
        sender_for(sink).send(msg)
    assert failure.value.transient
    assert "451 4.3.0" in failure.value.reason
    assert Mailbox(tmp_path / "mail").paths() == []


def test_nobody_listening_is_transient() -> None:
    _, msg = _message()
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=free_port(), timeout=5))
    with pytest.raises(SendFailed) as failure:
        sender.send(msg)
    assert failure.value.transient
    assert "unreachable" in failure.value.reason


@pytest.mark.parametrize("sink", [{"stall_seconds": 30.0}], indirect=True)
def test_a_server_that_does_not_answer_in_time_is_transient(
    sink: Controller, tmp_path: Path
) -> None:
    _, msg = _message()
    with pytest.raises(SendFailed) as failure:
        sender_for(sink, timeout=0.5).send(msg)
    assert failure.value.transient
    # the sink stored it before stalling: this is the ambiguous case a retry may duplicate
    assert len(Mailbox(tmp_path / "mail").paths()) == 1


class CountingHandler(SinkHandler):
    """The sink's handler, counting the SMTP sessions (one EHLO each)."""

    sessions = 0

    async def handle_EHLO(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        CountingHandler.sessions += 1
        session.host_name = hostname
        return responses


@pytest.fixture
def counting_sink(tmp_path: Path) -> Iterator[Controller]:
    settings = SinkSettings(host="127.0.0.1", port=free_port(), dir=tmp_path / "mail")
    CountingHandler.sessions = 0
    controller = Controller(
        CountingHandler(Mailbox(settings.dir), settings), hostname="127.0.0.1", port=settings.port
    )
    controller.start()
    yield controller
    controller.stop()


def test_mails_sent_one_after_the_other_share_a_session(
    counting_sink: Controller, tmp_path: Path
) -> None:
    sender = sender_for(counting_sink)
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        sender.send(_message(email)[1])
    assert len(Mailbox(tmp_path / "mail").paths()) == 3
    assert CountingHandler.sessions == 1


@pytest.mark.parametrize("sink", [{"refuse": r"^nobody@"}], indirect=True)
def test_after_a_failed_mail_the_next_one_goes_out_on_a_new_session(
    sink: Controller, tmp_path: Path
) -> None:
    sender = sender_for(sink)
    with pytest.raises(SendFailed):
        sender.send(_message("nobody@example.com")[1])
    sender.send(_message("ada@example.com")[1])
    [stored] = Mailbox(tmp_path / "mail").mails()
    assert stored.header("To") == "ada@example.com"
