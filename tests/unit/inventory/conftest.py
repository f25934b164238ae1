from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import Database
from tests.support.inventory import make_inventory_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh inventory database (SQLite file) with MUG-BLUE/TEE-M plenty, POSTER-A2 sold out,
    CAP-BLACK one left."""
    database = make_inventory_db(f"sqlite:///{tmp_path}/inventory.db")
    yield database
    database.dispose()
