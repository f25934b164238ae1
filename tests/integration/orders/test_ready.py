"""/ready reports the database and the broker (the API's live updates, subscribed or not), with
the reason when one is unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.common.settings import BrokerSettings
from services.orders.api import create_app
from services.orders.bootstrap import bootstrap
from services.orders.settings import Settings
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.ports import free_port


def problems_once_settled(client: TestClient) -> dict[str, str]:
    """/ready's problems once the live updates have made their first attempt (they start in the
    background with the app, so right after start-up the broker is "not subscribed yet")."""

    def settled() -> dict[str, str] | None:
        resp = client.get("/ready")
        if resp.status_code == 200:
            return {"": "ready"}
        found = {e["field"]: e["problem"] for e in resp.json()["errors"]}
        return None if "not subscribed" in found.get("broker", "") else found

    return wait_until(settled, timeout=20, message="the live updates' first attempt")


def ready_client(settings: Settings) -> Iterator[TestClient]:
    container = bootstrap(settings)
    try:
        with TestClient(create_app(container)) as client:
            yield client
    finally:
        container.close()


@pytest.fixture
def down_broker_client(orders_settings: Settings) -> Iterator[TestClient]:
    closed = BrokerSettings(port=free_port(), connect_timeout=2.0)
    yield from ready_client(orders_settings.model_copy(update={"broker": closed}))


@pytest.fixture
def no_schema_client(orders_settings: Settings, tmp_path: object) -> Iterator[TestClient]:
    empty = orders_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/empty.db"})
    yield from ready_client(empty)


def test_ready_when_the_database_and_the_broker_answer(
    client: TestClient, test_broker: TestBroker
) -> None:
    assert problems_once_settled(client) == {"": "ready"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_not_ready_when_the_broker_is_unreachable(down_broker_client: TestClient) -> None:
    problems_once_settled(down_broker_client)
    resp = down_broker_client.get("/ready")
    assert resp.status_code == 503
    body = resp.json()
    assert body["error"] == "not_ready"
    [problem] = body["errors"]
    assert problem["field"] == "broker"
    assert "broker unreachable" in problem["problem"]
    assert down_broker_client.get("/health").status_code == 200  # alive, just not ready


def test_not_ready_when_the_schema_is_missing(
    no_schema_client: TestClient, test_broker: TestBroker
) -> None:
    assert list(problems_once_settled(no_schema_client)) == ["database"]
    resp = no_schema_client.get("/ready")
    assert resp.status_code == 503
    [problem] = resp.json()["errors"]
    assert problem["field"] == "database"
    assert "schema missing" in problem["problem"]
