"""/docs works without internet, and what it shows is true: each example answer is the body the
API really gives (with the default settings) to the request it stands for."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.orders.api import create_app
from services.orders.api.examples import ORDER_ID
from services.orders.api.schemas import PLACE_ORDER_EXAMPLES
from services.orders.bootstrap import bootstrap
from services.orders.catalogue import DEMO_CATALOGUE
from services.orders.settings import Settings
from tests.support.orders import operator, order_body
from tests.support.ports import free_port


@pytest.fixture
def as_deployed(orders_settings: Settings) -> Iterator[TestClient]:
    """The app with the defaults the examples describe (body limit, rate limit)."""
    defaults = Settings.model_fields
    container = bootstrap(
        orders_settings.model_copy(
            update={
                "relay_wake_port": free_port(socket.SOCK_DGRAM),
                "max_body_bytes": defaults["max_body_bytes"].default,
                "place_rate_limit": defaults["place_rate_limit"].default,
            }
        )
    )
    try:
        with TestClient(create_app(container, live_updates=False)) as client:
            yield client
    finally:
        container.close()


def example(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    answer = spec["paths"][path][method]["responses"][str(status)]
    return answer["content"]["application/json"]["example"]


def test_docs_load_their_files_from_this_api_only(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(urls) >= 4  # the favicon, Swagger UI's CSS and script, and the page's own script
    for url in urls:
        assert url.startswith("/"), f"/docs loads {url} from elsewhere"
        assert client.get(url).status_code == 200, url
    assert 'data-openapi-url="/openapi.json"' in page.text
    assert client.get("/openapi.json").status_code == 200


def test_every_error_example_is_the_real_answer(as_deployed: TestClient) -> None:
    api = as_deployed
    spec = api.get("/openapi.json").json()
    invalid = PLACE_ORDER_EXAMPLES["invalid"]["value"]
    key = {"Idempotency-Key": "docs-409"}
    api.post("/orders", json=order_body(), headers=key)
    real = {
        ("/orders", "post", 409): api.post("/orders", json=order_body("b@x.org"), headers=key),
        ("/orders", "post", 413): api.post("/orders", content=b" " * 70_000),
        ("/orders", "post", 422): api.post("/orders", json=invalid),
        ("/orders/{order_id}", "get", 404): api.get(f"/orders/{ORDER_ID}"),
        ("/orders/{order_id}", "get", 422): api.get("/orders/has%20space"),
        ("/orders/{order_id}/events", "get", 404): api.get(f"/orders/{ORDER_ID}/events"),
        ("/orders/{order_id}/events", "get", 422): api.get("/orders/has%20space/events"),
        ("/orders", "get", 401): api.get("/orders"),
        ("/orders", "get", 422): api.get("/orders?status=SHIPPED", headers=operator()),
    }
    for (path, method, status), resp in real.items():
        assert resp.status_code == status, (path, method, resp.text)
        assert example(spec, path, method, status) == resp.json(), (path, method, status)
    for _ in range(300):  # the default limit: 300 a minute from one address
        api.post("/orders", json={})
    too_many = api.post("/orders", json={})
    assert too_many.status_code == 429
    assert example(spec, "/orders", "post", 429) == too_many.json()


def test_the_202_example_is_a_pending_order_with_its_location(as_deployed: TestClient) -> None:
    spec = as_deployed.get("/openapi.json").json()
    accepted = spec["paths"]["/orders"]["post"]["responses"]["202"]
    assert accepted["content"]["application/json"]["example"]["status"] == "PENDING"
    assert set(accepted["headers"]) == {"Location", "Idempotent-Replayed"}
    resp = as_deployed.post("/orders", json=order_body())
    assert resp.headers["location"] == f"/orders/{resp.json()['id']}"
    assert resp.json()["status"] == "PENDING"


def test_the_catalogue_is_documented_and_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/products" in spec["paths"]
    products = client.get("/products").json()
    assert {(p["sku"], p["name"], p["unit_price"]) for p in products} == {
        (item.sku, item.name, f"{item.unit_price:.2f}") for item in DEMO_CATALOGUE
    }
    assert {p["currency"] for p in products} == {"EUR"}
