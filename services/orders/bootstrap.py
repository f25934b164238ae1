"""Builds the orders service's objects once per process and hands them down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.common.db import Database
from services.common.observability.process import trace_database
from services.common.outbox import UdpWakeupSender, publishing_database
from services.orders.readiness import database_problem
from services.orders.settings import Settings


@dataclass
class Container:
    """What the orders handlers may ask for, by parameter name."""

    settings: Settings
    db: Database
    wakeup: UdpWakeupSender
    pending_timeout: timedelta

    def readiness_problems(self) -> dict[str, str]:
        """What keeps this process from working, by dependency. The API adds the broker from
        its live updates' state (api/routes.py), the one thing it uses the broker for."""
        problems = {}
        if (db := database_problem(self.db)) is not None:
            problems["database"] = db
        return problems

    def close(self) -> None:
        self.wakeup.close()
        self.db.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    db, wakeup = publishing_database(
        settings.database_url, settings.relay.wake_host, settings.relay.wake_port
    )
    trace_database(db)  # if this process traces (observability/process.py)
    return Container(
        settings=settings,
        db=db,
        wakeup=wakeup,
        pending_timeout=timedelta(seconds=settings.pending_timeout_seconds),
    )
