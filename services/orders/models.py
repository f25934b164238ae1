"""The orders database: SQLAlchemy 2 typed models. Schema creation is `manage create-schema`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import Enum, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.inbox import InboxMixin
from services.common.outbox import LeaseMixin, OutboxMixin
from services.common.sqltypes import UtcDateTime
from services.common.topology import Service
from services.orders.status import OrderStatus

PRICE = Numeric(12, 2)


def _status_type() -> Enum:
    """A status is stored as its value in a VARCHAR(16), as it was before the column was typed,
    so existing databases keep working. Reading or writing any other string raises."""
    return Enum(
        OrderStatus,
        native_enum=False,
        length=16,
        validate_strings=True,
        values_callable=lambda statuses: [status.value for status in statuses],
    )


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, Decimal: PRICE}


class Product(Base):
    """The orders service's own catalogue: prices come from here, never from the client."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_email: Mapped[str] = mapped_column(String(254))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal]
    status: Mapped[OrderStatus] = mapped_column(_status_type())
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )
    history: Mapped[list[OrderHistory]] = relationship(
        back_populates="order", order_by="OrderHistory.id", cascade="all, delete-orphan"
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int]
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal]

    order: Mapped[Order] = relationship(back_populates="lines")


class OrderHistory(Base):
    """What happened to an order, oldest first: the timeline of GET /orders/{id}."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime]
    status: Mapped[OrderStatus] = mapped_column(_status_type())  # the status after this step
    note: Mapped[str] = mapped_column(String(500))
    event_id: Mapped[str | None] = mapped_column(String(128), default=None)  # what caused it

    order: Mapped[Order] = relationship(back_populates="history")


class IdempotencyKey(Base):
    """A client's Idempotency-Key, the hash of the request it came with, and the order it made."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime]


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ProcessedEvent(InboxMixin, Base):
    inbox_consumer: ClassVar[str] = Service.ORDERS.value
    """The orders worker's inbox: events it has already handled (see services.common.inbox)."""

    __tablename__ = "processed_events"


class RelayLease(LeaseMixin, Base):
    __tablename__ = "outbox_lease"


RELAY_LEASE_NAME = "orders.outbox"
