"""The inbox: remember which events a consumer has processed, in its business transaction.

A service maps `InboxMixin` into its own metadata (`processed_events`, primary key
`(consumer, event_id)`) and calls `first_delivery` first thing in the transaction that handles an
event. The insert commits or rolls back together with the business change, so a redelivered or
duplicated event changes nothing.

Two workers handling the same event at once: on SQLite `BEGIN IMMEDIATE` serializes them and the
second sees the row; on PostgreSQL the second insert waits for the first transaction and then hits
the primary key. Either way the insert runs in a savepoint, so the loser's transaction stays usable
and simply does nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

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
    seen = select(exists().where(table.consumer == consumer, table.event_id == event_id))
    if session.scalar(seen):
        return False
    try:
        with session.begin_nested():
            session.execute(
                insert(table).values(
                    consumer=consumer,
                    event_id=event_id,
                    event_type=event_type,
                    processed_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        return False  # a concurrent transaction processed it and committed first
    return True
