"""The outbox and relay-lease tables, as mixins a service puts on its own declarative base.

A service owns its database, so each service maps these into its own metadata:

    class OutboxMessage(OutboxMixin, Base):
        __tablename__ = "outbox"

    class RelayLease(LeaseMixin, Base):
        __tablename__ = "outbox_lease"
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from services.common.sqltypes import UtcDateTime

# SQLite only auto-increments an `INTEGER PRIMARY KEY`; elsewhere a BIGINT identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMixin:
    """One event waiting to be published (or already published) by the relay.

    `id` order is commit order (see `store.add_event`), which is the order the relay publishes in.
    `payload` is the serialized envelope exactly as committed; the relay sends these bytes as-is.
    `trace_context` is the W3C trace context (JSON) of the transaction that wrote the row, when
    it was traced: the relay's publish continues that trace (observability/messaging.py).
    `priority` is the AMQP priority the relay publishes it with (NULL: none, the normal lane;
    docs/priorities.md). Nullable, so `create-schema` adds it to an older table in place.
    """

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    event_type: Mapped[str] = mapped_column(String(128))
    aggregate_id: Mapped[str] = mapped_column(String(64), index=True)
    correlation_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    trace_context: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[int | None] = mapped_column(SmallInteger, default=None)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{name}_pending", "published_at", "id"),)


class LeaseMixin:
    """Who may run the relay right now: one row per relay name, held until `expires_at`.

    Times are Unix epoch seconds from the relays' clocks (one machine, or NTP-synced hosts).
    """

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[float] = mapped_column(Float)
