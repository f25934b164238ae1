from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import Database
from services.orders.catalogue import seed_catalogue
from services.orders.manage import create_schema


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite orders database (a file: the handlers open several connections)."""
    database = Database(f"sqlite:///{tmp_path}/orders.db")
    create_schema(database)
    seed_catalogue(database)
    yield database
    database.dispose()
