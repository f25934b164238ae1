from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.common.db import Database
from services.common.settings import BrokerSettings
from services.orders.api import create_app
from services.orders.bootstrap import Container, bootstrap
from services.orders.settings import Settings
from tests.support.broker import TestBroker
from tests.support.orders import orders_db_url, orders_pg_url
from tests.support.ports import free_port

__all__ = ["orders_db_url", "orders_pg_url"]


@pytest.fixture
def orders_settings(orders_db_url: str) -> Settings:
    return Settings(
        database_url=orders_db_url,
        relay_wake_port=free_port(socket.SOCK_DGRAM),
        relay_poll_interval=0.5,
        relay_lease_ttl=5,
        relay_backoff_max=1.0,
        max_body_bytes=16 * 1024,
        broker=BrokerSettings(),
    )


@pytest.fixture
def db(orders_db_url: str) -> Iterator[Database]:
    """The test's orders database, for calling handlers directly."""
    database = Database(orders_db_url)
    yield database
    database.dispose()


@pytest.fixture
def container(orders_settings: Settings) -> Iterator[Container]:
    c = bootstrap(orders_settings)
    yield c
    c.close()


@pytest.fixture
def client(container: Container, test_broker: TestBroker) -> Iterator[TestClient]:
    """The app in-process, its live updates subscribed to the session's vhost."""
    with TestClient(create_app(container)) as c:
        yield c
