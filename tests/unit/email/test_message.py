from __future__ import annotations

from datetime import UTC, datetime

from services.email.mails import ORDER_RECEIVED, MailRenderer
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


def test_built_message_is_multipart_alternative_with_the_headers() -> None:
    event = order_placed_event(email="ada@example.com")
    mail = MailRenderer().render(ORDER_RECEIVED, event)
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = build_message(
        mail, Letterhead("shop <shop@example.com>", "shopflow"), message_id="<x@y>", date=when
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
