"""An outbox and a relay lease mapped into metadata of their own: the shared outbox tested on its
own, without any service's models."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.outbox import LeaseMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Leases(LeaseMixin, Base):
    __tablename__ = "outbox_lease"
