"""The inbox: remember which events a consumer has processed, in its business transaction.

A service maps `InboxMixin` into its own metadata (`processed_events`, primary key
`(consumer, event_id)`, with its consumer name as `inbox_consumer`) and calls `first_delivery`
first thing in the transaction that handles an event. The insert commits or rolls back together
with the business change, so a redelivered or duplicated event changes nothing.

Two workers handling the same event at once: on SQLite `BEGIN IMMEDIATE` serializes them and the
second sees the row; on PostgreSQL the second insert waits for the first transaction and then
skips (`ON CONFLICT DO NOTHING`). Either way the loser's transaction stays usable and simply does
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from services.common.db import insert_unless_exists
from services.common.events import Envelope
from services.common.sqltypes import UtcDateTime


class InboxMixin:
    inbox_consumer: ClassVar[str]  # whose inbox: the service that handles the events

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        """`processed_at` indexed: retention deletes the oldest rows (inbox_retention.py)."""
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{name}_processed_at", "processed_at"),)


def first_delivery(session: Session, inbox: type[InboxMixin], event: Envelope[Any]) -> bool:
    """Record the event as processed; False if it already was (then do nothing)."""
    return insert_unless_exists(
        session,
        inbox,
        consumer=inbox.inbox_consumer,
        event_id=event.id,
        event_type=event.type,
        processed_at=datetime.now(UTC),
    )
