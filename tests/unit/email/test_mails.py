from __future__ import annotations

from decimal import Decimal

import pytest

from services.common.topology import EVENT_SUBSCRIPTIONS, ORDER_PLACED, Service
from services.email.mails import MAILS_BY_EVENT, ORDER_RECEIVED, MailRenderer, format_money
from tests.support.factories import EVENT_FACTORIES, order_placed_event, order_rejected_event


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("0.00"), "EUR", "0.00 EUR"),
        (Decimal("8.5"), "EUR", "8.50 EUR"),
        (Decimal("1234567.89"), "USD", "1,234,567.89 USD"),
        (Decimal("0.125"), "EUR", "0.12 EUR"),  # banker's rounding, never float
        (Decimal("0.1") + Decimal("0.2"), "CHF", "0.30 CHF"),
    ],
)
def test_money_is_formatted_from_decimal(amount: Decimal, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected


def test_order_placed_sends_the_order_received_mail() -> None:
    assert MAILS_BY_EVENT[ORDER_PLACED] == (ORDER_RECEIVED,)


def test_order_received_has_subject_recipient_and_both_parts() -> None:
    event = order_placed_event(
        order_id="ORD-42",
        email="grace@example.org",
        lines=[("MUG-BLUE", 2, "8.50"), ("TEE-M", 1, "1019.90")],
        currency="USD",
    )
    mail = MailRenderer().render(ORDER_RECEIVED, event)

    assert mail.recipient == "grace@example.org"
    assert mail.subject == "Order ORD-42 received"
    for part in (mail.text, mail.html):
        assert "ORD-42" in part
        assert "MUG-BLUE" in part
        assert "8.50 USD" in part
        assert "17.00 USD" in part  # 2 x 8.50
        assert "1,019.90 USD" in part
        assert "1,036.90 USD" in part  # the total
    assert "<table>" in mail.html
    assert "<" not in mail.text


def test_html_part_escapes_what_comes_from_the_event() -> None:
    event = order_placed_event(order_id="<b>x</b>&")
    mail = MailRenderer().render(ORDER_RECEIVED, event)
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in mail.html
    assert "<b>x</b>&" in mail.text
    assert "\n" not in mail.subject


def test_every_mail_in_the_dispatch_table_has_its_three_template_files() -> None:
    renderer = MailRenderer()
    for event_type, templates in MAILS_BY_EVENT.items():
        for template in templates:
            mail = renderer.render(template, EVENT_FACTORIES[event_type]())
            assert mail.subject
            assert mail.text
            assert mail.html


def test_the_rejected_mail_names_the_short_skus() -> None:
    mail = MailRenderer().render("order_rejected", order_rejected_event(short_skus=("POSTER-A2",)))
    assert "POSTER-A2" in mail.text
    assert "POSTER-A2" in mail.html
    assert "could not be accepted" in mail.subject


def test_the_email_queues_are_bound_to_exactly_the_events_that_have_mails() -> None:
    bound = {key for _queue, _exchange, keys in EVENT_SUBSCRIPTIONS[Service.EMAIL] for key in keys}
    assert bound == set(MAILS_BY_EVENT)
