"""Is the service able to work right now? The DB answers (the API's live updates report the
broker: services/orders/live/)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from services.common.db import Database
from services.orders.models import Order


def database_problem(db: Database) -> str | None:
    """None if the orders table answers (so the schema exists), else why not."""
    try:
        with db.engine.connect() as conn:
            conn.execute(select(Order.id).limit(1))
    except SQLAlchemyError as exc:
        return f"database unreachable or schema missing: {type(exc).__name__}: {exc.args[0]}"[:500]
    return None
