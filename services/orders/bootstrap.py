"""Builds the orders service's objects once per process and hands them down."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.db import Database
from services.common.outbox import UdpWakeupSender
from services.orders.readiness import broker_problem, database_problem
from services.orders.settings import Settings


@dataclass
class Container:
    settings: Settings
    db: Database
    wakeup: UdpWakeupSender

    def notify_relay(self) -> None:
        self.wakeup.notify()

    def readiness_problems(self) -> dict[str, str]:
        problems = {}
        if (db := database_problem(self.db)) is not None:
            problems["database"] = db
        broker = broker_problem(self.settings.broker_url, self.settings.ready_timeout)
        if broker is not None:
            problems["broker"] = broker
        return problems

    def close(self) -> None:
        self.wakeup.close()
        self.db.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    return Container(
        settings=settings,
        db=Database(settings.database_url),
        wakeup=UdpWakeupSender(settings.relay_wake_host, settings.relay_wake_port),
    )
