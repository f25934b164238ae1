"""The inventory database: SQLAlchemy 2 typed models. Schema creation is `manage create-schema`.

- `stock`: what is on the shelf (`on_hand`) and how much of it is promised to orders
  (`reserved`); `available = on_hand - reserved` never goes below zero (a CHECK says so).
- `reservations`: one row per (order, SKU) that was reserved.
- `reservation_outcomes`: one row per order, the decision: RESERVED or REJECTED (with the
  shortages). A rejection is a business outcome, recorded like a success, never retried.
- `processed_events`: the inbox; its primary key makes a redelivered event a no-op.
- `outbox` / `outbox_lease`: the transactional outbox (services/common/outbox/): the decision's
  `stock.*` event commits with the decision, and the inventory relay publishes it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.inbox import InboxMixin
from services.common.outbox import LeaseMixin, OutboxMixin
from services.common.sqltypes import UtcDateTime
from services.common.topology import Service


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON}


class Stock(Base):
    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_stock_on_hand"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="ck_stock_reserved"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class OutcomeStatus(StrEnum):
    RESERVED = "RESERVED"
    REJECTED = "REJECTED"
    # The order expired: what was reserved went back to the shelf (or, when order.expired came
    # first, nothing will ever be reserved for it).
    RELEASED = "RELEASED"


class ReservationOutcome(Base):
    __tablename__ = "reservation_outcomes"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))  # the order.placed that decided it
    correlation_id: Mapped[str] = mapped_column(String(128))
    # REJECTED: {"shortages": [{"sku", "requested", "available"}, ...]}; RESERVED: {}
    detail: Mapped[dict[str, Any]]
    decided_at: Mapped[datetime]


class Reservation(Base):
    __tablename__ = "reservations"

    order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("reservation_outcomes.order_id"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("stock.sku"), primary_key=True)
    quantity: Mapped[int] = mapped_column(CheckConstraint("quantity > 0"))


class ProcessedEvent(InboxMixin, Base):
    inbox_consumer: ClassVar[str] = Service.INVENTORY.value
    __tablename__ = "processed_events"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class RelayLease(LeaseMixin, Base):
    __tablename__ = "outbox_lease"


RELAY_LEASE_NAME = "inventory.outbox"
