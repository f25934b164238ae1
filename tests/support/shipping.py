"""Helpers for the shipping tests: its database, and its worker as a subprocess."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.common.db import Database
from services.shipping.models import Base, OutboxMessage, ProcessedEvent, Shipment
from tests.support.processes import PYTHON, ServiceProcess

WORKER_READY = r"shipping@\S+ ready\."


def make_shipping_db(url: str) -> Database:
    db = Database(url)
    Base.metadata.create_all(db.engine)
    return db


def shipments_of(db: Database, order_id: str) -> list[Shipment]:
    with db.transaction() as session:
        return list(session.scalars(select(Shipment).where(Shipment.order_id == order_id)))


def dispatched_events(db: Database, order_id: str) -> list[str]:
    """The event types shipping put in its outbox for `order_id`, oldest first."""
    with db.transaction() as session:
        query = (
            select(OutboxMessage.event_type)
            .where(OutboxMessage.aggregate_id == order_id)
            .order_by(OutboxMessage.id)
        )
        return list(session.scalars(query))


def inbox_count(db: Database, event_id: str) -> int:
    with db.transaction() as session:
        query = select(func.count()).where(ProcessedEvent.event_id == event_id)
        return int(session.scalar(query) or 0)


def shipping_worker(log_dir: Path, env: dict[str, str]) -> ServiceProcess:
    """`python -m services.shipping.worker` (not started); `env` says at least its database
    (SHIPPING_DATABASE_URL)."""
    return ServiceProcess(
        "shipping-worker",
        [PYTHON, "-m", "services.shipping.worker"],
        log_dir,
        env={"SHIPPING_WORKER_CONCURRENCY": "2", **env},
    )
