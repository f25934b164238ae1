"""An outbox and a relay lease mapped into metadata of their own: the shared outbox tested on its
own, without any service's models; and the backlog of any outbox table."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import DeclarativeBase

from services.common.db import Database
from services.common.outbox import LeaseMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class Leases(LeaseMixin, Base):
    __tablename__ = "outbox_lease"


def backlog(db: Database, table: type[OutboxMixin]) -> int:
    """Rows of `table` not published yet."""
    with db.transaction() as session:
        return session.scalar(select(func.count()).where(table.published_at.is_(None))) or 0
