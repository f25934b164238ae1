"""Builds the shipping service's objects once per process and hands them down."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Database
from services.common.observability.process import trace_database
from services.common.outbox import UdpWakeupSender, publishing_database
from services.shipping.settings import Settings


@dataclass
class Container:
    """What the shipping handlers may ask for, by parameter name."""

    settings: Settings
    db: Database
    wakeup: UdpWakeupSender

    def close(self) -> None:
        self.wakeup.close()
        self.db.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    db, wakeup = publishing_database(
        settings.database_url, settings.relay.wake_host, settings.relay.wake_port
    )
    trace_database(db)  # if this process traces (observability/process.py)
    return Container(settings=settings, db=db, wakeup=wakeup)
