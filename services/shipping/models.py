"""The shipping database: SQLAlchemy 2 typed models. Schema creation is `manage create-schema`.

- `shipments`: one row per order (its primary key): the carrier chosen and the tracking number,
  so an order is shipped once whatever delivers its `order.confirmed` again;
- `processed_events`: the inbox; its primary key makes a redelivered event a no-op;
- `outbox` / `outbox_lease`: the transactional outbox (services/common/outbox/): the shipment's
  `shipment.dispatched` commits with it, and the shipping relay publishes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.inbox import InboxMixin
from services.common.outbox import LeaseMixin, OutboxMixin
from services.common.sqltypes import UtcDateTime
from services.common.topology import Service


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}


class Shipment(Base):
    __tablename__ = "shipments"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_email: Mapped[str] = mapped_column(String(254))
    event_id: Mapped[str] = mapped_column(String(128))  # the order.confirmed that shipped it
    dispatched_at: Mapped[datetime]


class ProcessedEvent(InboxMixin, Base):
    inbox_consumer: ClassVar[str] = Service.SHIPPING.value
    __tablename__ = "processed_events"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class RelayLease(LeaseMixin, Base):
    __tablename__ = "outbox_lease"


RELAY_LEASE_NAME = "shipping.outbox"
