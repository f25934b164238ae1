"""Helpers for the inventory tests: its database, its worker as a subprocess, bad messages."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import func, select

from services.common.db import Database
from services.common.events import Envelope, OrderPlaced
from services.inventory.manage import create_schema
from services.inventory.models import (
    OutboxMessage,
    ProcessedEvent,
    Reservation,
    ReservationOutcome,
)
from services.inventory.stock import set_stock, stock_levels
from tests.support.factories import order_placed_event
from tests.support.processes import PYTHON, ServiceProcess

WORKER_READY = r"inventory@\S+ ready\."

DEMO_LEVELS = {"MUG-BLUE": 1000, "TEE-M": 1000, "POSTER-A2": 0, "CAP-BLACK": 1}


def make_inventory_db(url: str, levels: dict[str, int] | None = None) -> Database:
    db = Database(url)
    create_schema(db)
    set_stock(db, DEMO_LEVELS if levels is None else levels)
    return db


def reserved(db: Database) -> dict[str, int]:
    return {lvl.sku: lvl.reserved for lvl in stock_levels(db)}


def outcome(db: Database, order_id: str) -> ReservationOutcome | None:
    with db.transaction() as session:
        return session.get(ReservationOutcome, order_id)


def reservations_of(db: Database, order_id: str) -> dict[str, int]:
    with db.transaction() as session:
        rows = session.scalars(select(Reservation).where(Reservation.order_id == order_id))
        return {r.sku: r.quantity for r in rows}


def inbox_count(db: Database, event_id: str) -> int:
    with db.transaction() as session:
        query = select(func.count()).where(ProcessedEvent.event_id == event_id)
        return int(session.scalar(query) or 0)


def answers_of(db: Database, order_id: str) -> list[str]:
    """The event types inventory put in its outbox for `order_id`, oldest first."""
    with db.transaction() as session:
        query = (
            select(OutboxMessage.event_type)
            .where(OutboxMessage.aggregate_id == order_id)
            .order_by(OutboxMessage.id)
        )
        return list(session.scalars(query))


def unpublished(db: Database) -> int:
    """Inventory outbox rows the relay has not had confirmed by the broker yet."""
    with db.transaction() as session:
        query = select(func.count()).where(OutboxMessage.published_at.is_(None))
        return int(session.scalar(query) or 0)


def inventory_worker(
    log_dir: Path,
    env: dict[str, str],
    name: str = "inventory-worker",
    *,
    pause_after_commit: float = 0.0,
    fail_while_exists: Path | None = None,
) -> ServiceProcess:
    """`python -m services.inventory.worker` (not started): two threads, quick retries; `env`
    says at least which database (INVENTORY_DATABASE_URL) it uses. With `pause_after_commit` or
    `fail_while_exists`, the test-only worker with those faults (faulty_inventory_worker.py)."""
    module = "services.inventory.worker"
    faults = {}
    if pause_after_commit:
        faults["PAUSE_AFTER_COMMIT_SECONDS"] = str(pause_after_commit)
    if fail_while_exists is not None:
        faults["FAIL_WHILE_EXISTS"] = str(fail_while_exists)
    if faults:
        module = "tests.support.faulty_inventory_worker"
    return ServiceProcess(
        name,
        [PYTHON, "-m", module],
        log_dir,
        env={
            "INVENTORY_WORKER_CONCURRENCY": "2",
            "INVENTORY_RETRY_BACKOFF_SECONDS": "0.1",
            "INVENTORY_RETRY_BACKOFF_MAX_SECONDS": "0.5",
            **env,
            **faults,
        },
    )


def handled(event: Envelope[Any], outcome: str) -> str:
    """The worker log line (a regex) saying how `event` was handled; it carries the ids."""
    return (
        rf"{event.type} {event.id} correlation={event.correlationid} "
        rf"for order {event.data.order_id}: {outcome}"
    )


def _envelope_dict(**data_changes: Any) -> dict[str, Any]:
    body = order_placed_event().to_dict()
    body["data"].update(data_changes)
    return body


def bad_messages() -> dict[str, tuple[bytes, pika.BasicProperties]]:
    """Each kind of message the ingress must dead-letter, as (body, properties)."""
    mid = str(uuid.uuid4())

    def props(content_type: str = "application/json", **kw: Any) -> pika.BasicProperties:
        return pika.BasicProperties(
            content_type=content_type, delivery_mode=2, message_id=mid, **kw
        )

    missing = _envelope_dict()
    del missing["data"]["customer_email"]
    negative = _envelope_dict()
    negative["data"]["lines"][0]["quantity"] = -1
    unknown = _envelope_dict()
    unknown["type"] = "order.teleported"
    task_id = str(uuid.uuid4())
    celery_task = [[order_placed_event().to_dict()], {}, {"callbacks": None, "errbacks": None}]
    return {
        "malformed-json": (b'{"id": "x", "type": "order.placed", ', props()),
        "wrong-content-type": (
            order_placed_event().to_json_bytes(),
            props("application/x-python-serialize"),
        ),
        "unknown-type": (json.dumps(unknown).encode(), props()),
        "missing-field": (json.dumps(missing).encode(), props()),
        "negative-quantity": (json.dumps(negative).encode(), props()),
        "celery-task-message": (
            json.dumps(celery_task).encode(),
            props(
                content_encoding="utf-8",
                correlation_id=task_id,
                headers={"lang": "py", "task": "inventory.reserve_stock", "id": task_id},
            ),
        ),
    }


def placed(event: Envelope[Any]) -> OrderPlaced:
    assert isinstance(event.data, OrderPlaced)
    return event.data
