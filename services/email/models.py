"""The email database: SQLAlchemy 2 typed models. Schema creation is `manage create-schema`.

- `sent_emails`: one row per (event, template), claimed before the SMTP send and marked sent
  after it (services/email/store.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Status(StrEnum):
    CLAIMED = "claimed"  # a worker is sending it right now (or died doing so)
    SENT = "sent"  # the SMTP server accepted it
    RELEASED = "released"  # the send failed; the next delivery of the event claims it again


class SentEmail(Base):
    __tablename__ = "sent_emails"
    # Retention deletes the oldest sent mails (store.sent_mails_expiry).
    __table_args__ = (Index("ix_sent_emails_status_sent_at", "status", "sent_at"),)

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    template: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255))
    claim_token: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime] = mapped_column(DateTime())  # naive UTC
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
