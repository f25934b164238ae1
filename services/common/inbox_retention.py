"""Pruning a consuming service's inbox from a thread of its worker process.

A worker process starts it once, next to its consumer, and stops it on the way out:

    retention = inbox_retention.start(db, inbox_expiry(ProcessedEvent), settings.retention)
    ...
    retention.stop()

(the email service passes `services.email.store.sent_mails_expiry()` instead: its inbox is the
mails it sent). Every `RETENTION_PRUNE_INTERVAL_SECONDS` the thread deletes the rows older than
`RETENTION_INBOX_DAYS` in batches (`retention.py`), then sleeps. Several worker processes of one
service may each run it: their batches skip the rows another one holds (PostgreSQL) or take turns
on the write lock (SQLite), and deleting what is already gone deletes nothing. A database error
is logged and the next run tries again; it never stops the worker.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from services.common.db import Database, table_of
from services.common.inbox import InboxMixin
from services.common.observability.metrics import RETENTION_PRUNED
from services.common.retention import Expiry, Pruner
from services.common.settings import RetentionSettings

log = logging.getLogger(__name__)


def inbox_expiry(table: type[InboxMixin]) -> Expiry:
    """The rows of an inbox (`processed_events`) that retention may delete: by `processed_at`."""
    return Expiry(table_of(table), "processed_at")


@dataclass
class InboxRetention:
    pruner: Pruner
    stopped: threading.Event
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in progress, if any."""
        self.stopped.set()
        self.thread.join(timeout)


def start(db: Database, expiry: Expiry, settings: RetentionSettings) -> InboxRetention:
    """A daemon thread pruning `expiry`'s table while the process runs."""
    pruner = Pruner(
        db,
        expiry,
        days=settings.inbox_days,
        batch=settings.prune_batch,
        pause=settings.prune_pause_seconds,
        interval=settings.prune_interval_seconds,
    )
    stopped = threading.Event()
    RETENTION_PRUNED.labels(expiry.name)  # the series exists, at 0, from the start

    def prune() -> None:
        while not stopped.is_set():
            try:
                delay = pruner.step()
            except SQLAlchemyError as exc:
                log.warning("pruning %s failed, trying again later: %s", expiry.name, exc)
                delay = settings.prune_interval_seconds
            stopped.wait(delay)

    thread = threading.Thread(target=prune, name=f"retention-{expiry.name}", daemon=True)
    thread.start()
    return InboxRetention(pruner, stopped, thread)
