"""The email service's own record of what it sent: `sent_emails`, one row per (event, template).

A worker claims the row before it talks to SMTP and marks it sent afterwards. The primary key
decides between two workers that got the same event at the same time; a claim older than the
lease belongs to a worker that died mid-send and is taken over (the mail goes out again, with
the same Message-ID: the one-duplicate window documented in docs/email.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import DateTime, Update, bindparam, update
from sqlalchemy.orm import Session

from services.common.db import Database, insert_unless_exists, table_of
from services.common.retention import Expiry
from services.email.models import SentEmail, Status


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # first claim, or a retry after a failed send: send it
    TAKEN_OVER = "taken_over"  # the previous claimer's lease ran out: send it again
    ALREADY_SENT = "already_sent"  # nothing to do
    HELD = "held"  # another worker holds a live claim: not ours, try later


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    token: str | None = None  # ours, when the outcome says we send
    held_until: datetime | None = None  # for HELD: when that claim expires (UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# The mark-sent statement, built once and run on the session's connection, the values bound at
# execution (the claim is `insert_unless_exists`, built the same way): building them per call
# and running them through the ORM session cost two to three times the CPU (docs/email.md, "What
# a mail costs").
_TABLE = table_of(SentEmail)
_KEY = (
    _TABLE.c.event_id == bindparam("key_event_id"),
    _TABLE.c.template == bindparam("key_template"),
)
_MARK_SENT: Update = (
    update(_TABLE)
    .where(*_KEY, _TABLE.c.claim_token == bindparam("token"))
    .values(status=Status.SENT, sent_at=bindparam("now", type_=DateTime()))
)


class SentEmailStore:
    def __init__(
        self, db: Database, *, lease: timedelta, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._db = db
        self._lease = lease
        self._clock = clock

    def claim(self, event_id: str, template: str, *, recipient: str, message_id: str) -> Claim:
        now = _naive(self._clock())
        token = uuid.uuid4().hex
        mail = {"recipient": recipient, "message_id": message_id, "claim_token": token}
        new = {"event_id": event_id, "template": template, "claimed_at": now, "attempts": 1}
        new |= {"status": Status.CLAIMED, **mail}
        with self._db.transaction() as session:
            claimed = insert_unless_exists(session, SentEmail, **new)
        if claimed:
            return Claim(ClaimOutcome.CLAIMED, token)
        with self._db.transaction() as session:  # the row exists: decide from its state
            row = session.get(SentEmail, (event_id, template), populate_existing=True)
            if row is None:  # released and purged between our two statements
                return Claim(ClaimOutcome.HELD, held_until=now.replace(tzinfo=UTC))
            if row.status == Status.SENT:
                return Claim(ClaimOutcome.ALREADY_SENT)
            expires = row.claimed_at + self._lease
            if row.status == Status.CLAIMED and expires > now:
                return Claim(ClaimOutcome.HELD, held_until=expires.replace(tzinfo=UTC))
            if not self._take_over(session, row, now, mail):
                return Claim(ClaimOutcome.HELD, held_until=(now + self._lease).replace(tzinfo=UTC))
            taken_over = row.status == Status.CLAIMED
            return Claim(ClaimOutcome.TAKEN_OVER if taken_over else ClaimOutcome.CLAIMED, token)

    def _take_over(
        self, session: Session, row: SentEmail, now: datetime, mail: dict[str, str]
    ) -> bool:
        """Compare-and-set on the old token: of two workers taking over at once, one wins."""
        won = session.execute(
            update(SentEmail)
            .where(
                SentEmail.event_id == row.event_id,
                SentEmail.template == row.template,
                SentEmail.status == row.status,
                SentEmail.claim_token == row.claim_token,
            )
            .values(status=Status.CLAIMED, claimed_at=now, attempts=SentEmail.attempts + 1, **mail)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(won == 1)

    def mark_sent(self, event_id: str, template: str, token: str) -> bool:
        """Record the send. False if our claim had been taken over meanwhile (the mail may then
        go out twice; it is recorded as sent either way, because it was)."""
        now = _naive(self._clock())
        ours = {"key_event_id": event_id, "key_template": template, "token": token, "now": now}
        with self._db.transaction() as session:
            if session.connection().execute(_MARK_SENT, ours).rowcount:
                return True
            session.execute(
                update(SentEmail)
                .where(
                    SentEmail.event_id == event_id,
                    SentEmail.template == template,
                    SentEmail.status != Status.SENT,
                )
                .values(status=Status.SENT, sent_at=now)
                .execution_options(synchronize_session=False)
            )
            return False

    def release(self, event_id: str, template: str, token: str, reason: str) -> None:
        """Give the claim back after a failed send, so the retry does not wait for the lease."""
        with self._db.transaction() as session:
            session.execute(
                update(SentEmail)
                .where(
                    SentEmail.event_id == event_id,
                    SentEmail.template == template,
                    SentEmail.claim_token == token,
                    SentEmail.status == Status.CLAIMED,
                )
                .values(status=Status.RELEASED, last_error=reason[:1000])
                .execution_options(synchronize_session=False)
            )


def sent_mails_expiry() -> Expiry:
    """What retention may delete (services/common/inbox_retention.py): mails marked sent, by
    `sent_at`. A claimed or released row is work not done yet, and stays whatever its age."""
    return Expiry(table_of(SentEmail), "sent_at", SentEmail.status == Status.SENT, naive=True)
