"""The inbox: remember which events a consumer has processed, in its business transaction.

A service maps `InboxMixin` into its own metadata (`processed_events`, primary key
`(consumer, event_id)`) and calls `first_delivery` first thing in the transaction that handles an
event. The insert commits or rolls back together with the business change, so a redelivered or
duplicated event changes nothing.

Two workers handling the same event at once: on SQLite `BEGIN IMMEDIATE` serializes them and the
second sees the row; on PostgreSQL the second insert waits for the first transaction and then
skips (`ON CONFLICT DO NOTHING`). Either way the loser's transaction stays usable and simply does
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.common.db import insert_unless_exists
from services.common.sqltypes import UtcDateTime


class InboxMixin:
    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)


def first_delivery(
    session: Session, table: type[InboxMixin], consumer: str, event_id: str, event_type: str
) -> bool:
    """Record the event as processed by `consumer`; False if it already was (do nothing then)."""
    return insert_unless_exists(
        session,
        table,
        consumer=consumer,
        event_id=event_id,
        event_type=event_type,
        processed_at=datetime.now(UTC),
    )
