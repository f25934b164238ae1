"""The claim/mark logic of sent_emails, on a real SQLite file with a hand-driven clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.db import Database
from services.email.models import Status
from services.email.store import ClaimOutcome, SentEmailStore
from tests.support.email import make_email_db, sent_email

LEASE = timedelta(seconds=60)
T0 = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return make_email_db(f"sqlite:///{tmp_path / 'email.db'}")


@pytest.fixture
def store(db: Database, clock: Clock) -> SentEmailStore:
    return SentEmailStore(db, lease=LEASE, clock=clock)


def claim(store: SentEmailStore, event_id: str = "e1", template: str = "t") -> ClaimOutcome:
    return store.claim(event_id, template, recipient="a@example.com", message_id="<m>").outcome


def test_first_claim_is_ours_and_recorded(db: Database, store: SentEmailStore) -> None:
    result = store.claim("e1", "t", recipient="a@example.com", message_id="<e1.t@shopflow>")
    assert result.outcome is ClaimOutcome.CLAIMED
    assert result.token
    row = sent_email(db, "e1", "t")
    assert row is not None
    assert (row.status, row.recipient) == ("claimed", "a@example.com")
    assert row.message_id == "<e1.t@shopflow>"
    assert row.claimed_at == T0.replace(tzinfo=None)


def test_a_sent_mail_is_never_claimed_again(
    db: Database, store: SentEmailStore, clock: Clock
) -> None:
    first = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert first.token
    assert store.mark_sent("e1", "t", first.token)
    assert claim(store) is ClaimOutcome.ALREADY_SENT
    clock.now += LEASE * 10
    assert claim(store) is ClaimOutcome.ALREADY_SENT
    row = sent_email(db, "e1", "t")
    assert row is not None
    assert row.status == Status.SENT
    assert row.sent_at is not None


def test_a_live_claim_of_another_worker_is_held(store: SentEmailStore, clock: Clock) -> None:
    assert claim(store) is ClaimOutcome.CLAIMED
    clock.now += LEASE - timedelta(seconds=1)
    second = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert second.outcome is ClaimOutcome.HELD
    assert second.token is None
    assert second.held_until == T0 + LEASE


def test_an_expired_claim_is_taken_over_once(
    db: Database, store: SentEmailStore, clock: Clock
) -> None:
    dead = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    clock.now += LEASE
    taker = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert taker.outcome is ClaimOutcome.TAKEN_OVER
    assert taker.token != dead.token
    # a third worker right after the takeover finds a fresh, live claim
    assert claim(store) is ClaimOutcome.HELD
    row = sent_email(db, "e1", "t")
    assert row is not None
    assert row.attempts == 2


def test_the_late_original_claimer_still_records_the_send(
    store: SentEmailStore, clock: Clock
) -> None:
    slow = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    clock.now += LEASE
    taker = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert slow.token
    assert taker.token
    assert store.mark_sent("e1", "t", slow.token) is False  # it was taken over meanwhile
    assert claim(store) is ClaimOutcome.ALREADY_SENT
    assert store.mark_sent("e1", "t", taker.token) is True


def test_a_released_claim_is_claimed_again_at_once(db: Database, store: SentEmailStore) -> None:
    first = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert first.token
    store.release("e1", "t", first.token, "451 try later")
    row = sent_email(db, "e1", "t")
    assert row is not None
    assert (row.status, row.last_error) == ("released", "451 try later")
    again = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    assert again.outcome is ClaimOutcome.CLAIMED
    assert again.token != first.token
    assert claim(store) is ClaimOutcome.HELD


def test_release_with_a_stale_token_changes_nothing(
    db: Database, store: SentEmailStore, clock: Clock
) -> None:
    old = store.claim("e1", "t", recipient="a@example.com", message_id="<m>")
    clock.now += LEASE
    assert claim(store) is ClaimOutcome.TAKEN_OVER
    assert old.token
    store.release("e1", "t", old.token, "late failure")
    row = sent_email(db, "e1", "t")
    assert row is not None
    assert row.status == Status.CLAIMED


def test_each_template_of_an_event_is_claimed_separately(store: SentEmailStore) -> None:
    assert claim(store, "e1", "order_received") is ClaimOutcome.CLAIMED
    assert claim(store, "e1", "order_confirmed") is ClaimOutcome.CLAIMED
    assert claim(store, "e2", "order_received") is ClaimOutcome.CLAIMED
