from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime

import pytest

from services.email.mails import ORDER_RECEIVED, MailRenderer, RenderedMail
from services.email.message import Letterhead, OutgoingMail, build_message, message_id
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


def received(mail: OutgoingMail) -> EmailMessage:
    """The message as a mail client reads it: its bytes, parsed with the default policy."""
    return BytesParser(policy=policy.default).parsebytes(mail.data)


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
    assert max(len(line) for line in built.data.split(b"\r\n")) <= 78
    msg = received(built)
    assert msg["Subject"] == subject
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content() == "Grüße\n"


def test_an_address_that_is_not_ascii_gets_a_message_smtplib_sends_with_smtputf8() -> None:
    mail = RenderedMail("t", "zoë@exämple.com", "Order", "text\n", "<p>html</p>")
    built = build_message(
        mail, Letterhead("Zoë's shop <shop@example.com>", "shopflow"), message_id="<x@y>", date=T
    )
    assert built.smtputf8  # the sender asks the server for SMTPUTF8
    assert (built.sender, built.recipient) == ("shop@example.com", "zoë@exämple.com")
    msg = received(built)
    assert msg["To"] == "zoë@exämple.com"
    assert msg["From"] == "Zoë's shop <shop@example.com>"
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content().splitlines() == ["text"]  # 8bit, in CRLF lines as SMTP has it


T = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
LONG_ID = "0123456789abcdef" * 4


def as_the_stdlib_builds_it(mail: RenderedMail, letterhead: Letterhead, boundary: str) -> bytes:
    """What the `compat32` MIME classes and `smtplib.send_message`'s generator make of it."""
    msg = MIMEMultipart("alternative", boundary=boundary)
    msg["From"] = letterhead.mail_from
    msg["To"] = mail.recipient
    if mail.subject.isascii():
        msg["Subject"] = mail.subject
    else:
        msg["Subject"] = Header(mail.subject, "utf-8", header_name="Subject")  # type: ignore[assignment]
    msg["Date"] = format_datetime(T)
    msg["Message-ID"] = "<x@y>"
    msg.attach(MIMEText(mail.text, "plain", "utf-8"))
    msg.attach(MIMEText(mail.html, "html", "utf-8"))
    out = io.BytesIO()
    BytesGenerator(out).flatten(msg, linesep="\r\n")
    return out.getvalue()


@pytest.mark.parametrize(
    "mail",
    [
        MailRenderer().render(ORDER_RECEIVED, order_placed_event(email="ada@example.com")),
        # a long ASCII subject is folded at whitespace
        RenderedMail("t", "a@example.com", f"Order {LONG_ID} could not be accepted", "a\n", ""),
        RenderedMail("t", "a@example.com", "Order " + "word " * 30, "a\n", "<p>b</p>"),
        RenderedMail("t", "a@example.com", "Bestellung für Café Müller — " * 4, "Grüße\n", "ü"),
        RenderedMail("t", "a@example.com", "ü", "", ""),
    ],
    ids=["rendered", "long-id", "long-words", "not-ascii", "empty-parts"],
)
def test_the_message_is_byte_for_byte_what_the_stdlib_generator_writes(
    mail: RenderedMail,
) -> None:
    letterhead = Letterhead("shopflow <orders@shopflow.example>", "shopflow")
    built = build_message(mail, letterhead, message_id="<x@y>", date=T)
    found = re.search(rb'boundary="([^"]+)"', built.data)
    assert found is not None
    assert built.data == as_the_stdlib_builds_it(mail, letterhead, found[1].decode())
    assert (built.sender, built.recipient, built.message_id, built.smtputf8) == (
        "orders@shopflow.example",
        "a@example.com" if mail.template == "t" else "ada@example.com",
        "<x@y>",
        False,
    )
    assert max(len(line) for line in built.data.split(b"\r\n")) <= 78
    assert b"\n" not in built.data.replace(b"\r\n", b"")  # CRLF line ends only


def test_each_message_gets_a_boundary_of_its_own() -> None:
    mail = RenderedMail("t", "a@example.com", "Order", "text\n", "<p>html</p>")
    letterhead = Letterhead("shop@example.com", "shopflow")
    one, two = (build_message(mail, letterhead, message_id="<x@y>", date=T) for _ in range(2))
    assert one.data != two.data
    assert received(one).get_body(preferencelist=("html",)) is not None
