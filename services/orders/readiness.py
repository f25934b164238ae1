"""Is the service able to work right now? The DB answers and the broker accepts our login."""

from __future__ import annotations

import contextlib

import pika
from pika.exceptions import AMQPError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from services.common.db import Database
from services.common.outbox.pika_publisher import connection_parameters, describe
from services.orders.models import Order


def database_problem(db: Database) -> str | None:
    """None if the orders table answers (so the schema exists), else why not."""
    try:
        with db.engine.connect() as conn:
            conn.execute(select(Order.id).limit(1))
    except SQLAlchemyError as exc:
        return f"database unreachable or schema missing: {type(exc).__name__}: {exc.args[0]}"[:500]
    return None


def broker_problem(broker_urls: list[str], timeout: float) -> str | None:
    """None if we can log in to one of the broker's nodes as the orders user, else why not."""
    try:
        connection = pika.BlockingConnection(connection_parameters(broker_urls, timeout=timeout))
    except (AMQPError, OSError) as exc:
        return f"broker unreachable: {describe(exc)}"[:500]
    with contextlib.suppress(AMQPError, OSError):
        connection.close()
    return None
