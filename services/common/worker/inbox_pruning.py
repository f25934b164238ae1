"""The worker's inbox retention: a bootstep that prunes the service's inbox from a thread of the
worker's main process while the worker runs (services/common/inbox_retention.py says how).

It opens a database engine of its own: the handlers' engine is built per process on the first
attempt (after a prefork fork, in each child), and a background thread must not share it across
a fork.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, bootsteps

from services.common import inbox_retention
from services.common.db import Database
from services.common.retention import Expiry
from services.common.settings import RetentionSettings


class InboxPruning(bootsteps.StartStopStep):
    """Configured through class attributes set by `install_inbox_pruning`."""

    requires = ("celery.worker.components:Pool",)
    expiry: Expiry
    database_url: str = ""
    retention: RetentionSettings

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._db: Database | None = None
        self._pruning: inbox_retention.InboxRetention | None = None

    def start(self, parent: Any) -> None:
        self._db = Database(self.database_url)
        self._pruning = inbox_retention.start(self._db, self.expiry, self.retention)

    def stop(self, parent: Any) -> None:
        pruning, db, self._pruning, self._db = self._pruning, self._db, None, None
        if pruning is not None:
            pruning.stop()
        if db is not None:
            db.dispose()

    terminate = stop


def install_inbox_pruning(
    app: Celery, expiry: Expiry, database_url: str, retention: RetentionSettings
) -> None:
    step = type(
        "InboxPruning",
        (InboxPruning,),
        {"expiry": expiry, "database_url": database_url, "retention": retention},
    )
    app.steps["worker"].add(step)
