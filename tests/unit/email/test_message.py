from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from services.email.mails import ORDER_RECEIVED, MailRenderer, RenderedMail
from services.email.message import Letterhead, build_message, message_id
from tests.support.factories import order_placed_event


def test_message_id_is_derived_from_event_and_template() -> None:
    assert message_id("9b1d", "order_received") == "<9b1d.order_received@shopflow>"
    assert message_id("9b1d", "order_received", "mail.example") == (
        "<9b1d.order_received@mail.example>"
    )
    assert message_id("9b1d", "order_received") == message_id("9b1d", "order_received")
    assert message_id("9b1d", "order_received") != message_id("9b1d", "order_confirmed")
    assert message_id("9b1d", "order_received") != message_id("9b1e", "order_received")


def test_an_event_id_that_is_no_valid_atom_is_hashed_deterministically() -> None:
    weird = "id with <spaces>@and..dots"
    mid = message_id(weird, "order_received")
    assert mid == message_id(weird, "order_received")
    assert mid.startswith("<")
    assert mid.endswith(".order_received@shopflow>")
    assert " " not in mid
    assert mid.count("@") == 1


def received(msg: Message) -> EmailMessage:
    """The message as a mail client reads it: its bytes, parsed with the default policy."""
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes())


def test_built_message_is_multipart_alternative_with_the_headers() -> None:
    event = order_placed_event(email="ada@example.com")
    mail = MailRenderer().render(ORDER_RECEIVED, event)
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = received(
        build_message(
            mail, Letterhead("shop <shop@example.com>", "shopflow"), message_id="<x@y>", date=when
        )
    )

    assert msg["Message-ID"] == "<x@y>"
    assert msg["To"] == "ada@example.com"
    assert msg["From"] == "shop <shop@example.com>"
    assert msg["Subject"] == mail.subject
    assert msg["Date"] == "Thu, 02 Jan 2025 03:04:05 +0000"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == mail.text
    assert html.get_content() == mail.html


def test_a_subject_that_is_not_ascii_arrives_as_written_in_lines_of_at_most_78() -> None:
    subject = "Bestellung für Café Müller — " + "eine recht lange Betreffzeile " * 4 + "Ende"
    mail = RenderedMail("t", "ada@example.com", subject, "Grüße\n", "<p>Grüße</p>")
    built = build_message(
        mail, Letterhead("shop@example.com", "shopflow"), message_id="<x@y>", date=datetime.now(UTC)
    )
    assert max(len(line) for line in built.as_bytes().splitlines()) <= 78
    msg = received(built)
    assert msg["Subject"] == subject
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content() == "Grüße\n"


def test_an_address_that_is_not_ascii_gets_a_message_smtplib_sends_with_smtputf8() -> None:
    mail = RenderedMail("t", "zoë@exämple.com", "Order", "text\n", "<p>html</p>")
    msg = build_message(
        mail, Letterhead("shop@example.com", "shopflow"), message_id="<x@y>", date=datetime.now(UTC)
    )
    assert isinstance(msg, EmailMessage)  # smtplib asks for SMTPUTF8 from its policy
    assert msg["To"] == "zoë@exämple.com"
