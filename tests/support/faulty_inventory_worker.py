"""The inventory worker with faults a test can switch on: `python -m
tests.support.faulty_inventory_worker`. For tests only.

- PAUSE_AFTER_COMMIT_SECONDS: a pause after each reservation commits, before the event is acked,
  so that a test can kill -9 the worker between the commit and the ack (or SIGTERM it mid-way).
- FAIL_WHILE_EXISTS: a path; while that file exists, every run of the handler fails with a
  `TransientError` before it touches the database, so a test can hold an event in its retries.

The worker is the real one, built from the same table with `reserve_stock` wrapped, so its task
names, routes and ingress are the production ones.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from pathlib import Path
from typing import Any

from services.common.db import Database
from services.common.events import Envelope
from services.common.topology import ORDER_PLACED
from services.common.worker.errors import TransientError
from services.common.worker.service import ServiceWorker
from services.inventory.bootstrap import bootstrap
from services.inventory.reserve import ReservationResult, Result, reserve_stock
from services.inventory.settings import Settings
from services.inventory.worker import HANDLERS

log = logging.getLogger("shopflow.tests.faulty")
PAUSE = float(os.environ.get("PAUSE_AFTER_COMMIT_SECONDS", "0"))
FAIL_WHILE_EXISTS = os.environ.get("FAIL_WHILE_EXISTS")


@functools.wraps(reserve_stock)
def faulty_reserve_stock(event: Envelope[Any], db: Database) -> ReservationResult:
    if FAIL_WHILE_EXISTS and Path(FAIL_WHILE_EXISTS).exists():
        raise TransientError(f"FAULT INJECTION: {FAIL_WHILE_EXISTS} exists")
    outcome = reserve_stock(event, db)
    if PAUSE and outcome.result in (Result.RESERVED, Result.REJECTED):
        log.warning(
            "FAULT INJECTION: event %s committed; pausing %.1fs before the ack", event.id, PAUSE
        )
        time.sleep(PAUSE)
    return outcome


worker = ServiceWorker(Settings(), bootstrap, {**HANDLERS, ORDER_PLACED: faulty_reserve_stock})
app = worker.app

if __name__ == "__main__":
    worker.main()
