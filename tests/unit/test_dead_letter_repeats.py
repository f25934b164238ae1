"""Whether a dead letter's event is older than its consumer's inbox retention (broker/repeats.py):
where the event's time is found, and whose retention counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.repeats import InboxRetention, event_time
from services.common import topology as t
from services.common.events import Envelope
from services.common.settings import RetentionSettings
from services.email.settings import Settings as EmailSettings
from services.inventory.settings import Settings as InventorySettings
from tests.support.factories import order_placed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def envelope(days: float) -> Envelope[Any]:
    return Envelope.wrap(order_placed(), time=NOW - timedelta(days=days))


def celery_task(event: Envelope[Any]) -> bytes:
    """A `<svc>.tasks` message body as Celery's protocol 2 writes it: [args, kwargs, embed]."""
    return json.dumps([[event.to_dict()], {}, {"callbacks": None}]).encode()


def test_the_event_time_is_read_from_an_event_or_from_the_task_that_carries_it() -> None:
    event = envelope(days=3)
    assert event_time(event.to_json_bytes()) == event.time
    assert event_time(celery_task(event)) == event.time


@pytest.mark.parametrize(
    "body", [b"poison", b"[1, 2]", b'{"id": "x"}', b'{"time": "yesterday"}', b"[[], {}, {}]"]
)
def test_a_body_without_an_event_time_has_none(body: bytes) -> None:
    assert event_time(body) is None


def retention() -> InboxRetention:
    return InboxRetention(t.build("shop"), now=lambda: NOW)


def test_an_event_older_than_its_consumers_inbox_retention_is_too_old() -> None:
    check = retention()
    assert check.too_old(t.INVENTORY_EVENTS_QUEUE, envelope(days=31).to_json_bytes())
    assert not check.too_old(t.INVENTORY_EVENTS_QUEUE, envelope(days=29).to_json_bytes())
    assert check.too_old("inventory.tasks", celery_task(envelope(days=31)))
    assert not check.too_old(None, envelope(days=400).to_json_bytes())  # no origin: kept anyway
    assert not check.too_old(t.INVENTORY_EVENTS_QUEUE, b"poison")  # nobody can handle it
    assert check.describe(f"{t.INVENTORY_EVENTS_QUEUE}.dlq") == (
        "inventory's inbox retention (30 days)"
    )


def test_the_consuming_services_own_retention_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_INBOX_DAYS", "10")
    monkeypatch.setenv("EMAIL_RETENTION_INBOX_DAYS", "90")
    check = retention()
    old = envelope(days=40).to_json_bytes()
    assert check.too_old(t.INVENTORY_EVENTS_QUEUE, old)  # the shared 10 days
    assert not check.too_old(t.EMAIL_EVENTS_QUEUE, old)  # email's own 90 days


def test_zero_days_means_the_inbox_never_forgets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_INBOX_DAYS", "0")
    assert not retention().too_old(t.INVENTORY_EVENTS_QUEUE, envelope(days=4000).to_json_bytes())


def test_a_knob_group_is_read_as_the_service_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_OUTBOX_DAYS", "3")
    monkeypatch.setenv("INVENTORY_RETENTION_OUTBOX_DAYS", "5")
    monkeypatch.setenv("INVENTORY_BROKER_PASSWORD", "p")
    alone = InventorySettings.knob_group("retention", RetentionSettings)
    assert alone == InventorySettings().retention
    assert (alone.outbox_days, alone.inbox_days) == (5, 30)
    # no password needed: only the group is read
    monkeypatch.delenv("EMAIL_BROKER_PASSWORD", raising=False)
    assert EmailSettings.knob_group("retention", RetentionSettings).outbox_days == 3
