"""The inventory worker with a pause after each reservation commits, before its task is acked:
`python -m tests.support.paused_inventory_worker`. A fault drill for tests only, so that a test
can kill -9 the worker between the commit and the ack (or SIGTERM it mid-task).

PAUSE_AFTER_COMMIT_SECONDS sets the pause. The worker is the real one, built from the same table
with `reserve_stock` wrapped, so its task names, routes and ingress are the production ones.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from services.common.db import Database
from services.common.events import Envelope
from services.common.topology import ORDER_PLACED
from services.common.worker.service import ServiceWorker
from services.inventory.bootstrap import bootstrap
from services.inventory.reserve import ReservationResult, Result, reserve_stock
from services.inventory.settings import Settings
from services.inventory.worker import HANDLERS

log = logging.getLogger("shopflow.tests.paused")
PAUSE = float(os.environ.get("PAUSE_AFTER_COMMIT_SECONDS", "0"))


@functools.wraps(reserve_stock)
def paused_reserve_stock(event: Envelope[Any], db: Database) -> ReservationResult:
    outcome = reserve_stock(event, db)
    if outcome.result in (Result.RESERVED, Result.REJECTED):
        log.warning(
            "FAULT INJECTION: event %s committed; pausing %.1fs before the ack", event.id, PAUSE
        )
        time.sleep(PAUSE)
    return outcome


worker = ServiceWorker(Settings(), bootstrap, {**HANDLERS, ORDER_PLACED: paused_reserve_stock})
app = worker.app

if __name__ == "__main__":
    worker.main()
