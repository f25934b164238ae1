from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.common.db import Database
from tests.support.broker import TestBroker
from tests.support.inventory import WORKER_READY, inventory_worker, make_inventory_db
from tests.support.processes import ServiceProcess, running


@dataclass
class RunningInventory:
    worker: ServiceProcess
    db: Database


@pytest.fixture(scope="module")
def inventory(
    test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningInventory]:
    """One inventory worker (and its SQLite database) shared by a module's tests: each test uses
    its own orders, so they do not interfere, and the worker starts once."""
    tmp = tmp_path_factory.mktemp("inventory")
    url = f"sqlite:///{tmp}/inventory.db"
    db = make_inventory_db(url)
    with running(inventory_worker(tmp, {"INVENTORY_DATABASE_URL": url})) as (proc,):
        proc.wait_for_log(WORKER_READY, timeout=90)
        yield RunningInventory(proc, db)
    db.dispose()
