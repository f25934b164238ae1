"""The API closed to strangers (docs/security.md): the operator token, the id as capability, the
per-client limit, the pages' headers, CORS, 405 with every allowed method, errors in words."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from services.orders import read
from services.orders.api import create_app
from services.orders.api.errors import PATTERN_WORDS, too_many_body
from services.orders.api.schemas import KEY_PATTERN
from services.orders.bootstrap import Container, bootstrap
from services.orders.commands import ListOrders
from services.orders.settings import Settings
from tests.support.orders import operator, order_body
from tests.support.ports import free_port

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def app_with(settings: Settings, **changes: Any) -> Iterator[TestClient]:
    container = bootstrap(
        settings.model_copy(update={"relay_wake_port": free_port(socket.SOCK_DGRAM), **changes})
    )
    try:
        with TestClient(create_app(container, live_updates=False)) as client:
            yield client
    finally:
        container.close()


# ---- who may read what ------------------------------------------------------------------------


def test_listing_orders_needs_the_operator_token(client: TestClient) -> None:
    client.post("/orders", json=order_body())
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic x"}):
        resp = client.get("/orders", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.headers["www-authenticate"].startswith("Bearer")
        [problem] = resp.json()["errors"]
        assert (problem["field"], problem["in"]) == ("Authorization", "header")


def test_with_the_token_the_list_is_the_one_the_read_model_gives(
    client: TestClient, container: Container
) -> None:
    for i in range(3):
        client.post("/orders", json=order_body(f"c{i}@example.com"))
    resp = client.get("/orders", params={"page_size": 2}, headers=operator())
    assert resp.status_code == 200
    expected = read.list_orders(ListOrders(page_size=2), container.db)
    assert resp.json() == expected.model_dump(mode="json")


def test_one_order_is_reachable_by_its_id_alone(client: TestClient) -> None:
    order = client.post("/orders", json=order_body()).json()
    assert client.get(f"/orders/{order['id']}").json() == order
    page = client.get(f"/orders/{order['id']}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["vary"] == "Accept"
    assert 'src="/static/order.js"' in page.text


def test_the_openapi_document_says_which_operations_need_the_token(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    [(scheme, _)] = spec["components"]["securitySchemes"].items()
    token: list[dict[str, list[str]]] = [{scheme: []}]
    no_token: list[dict[str, list[str]]] = [{}]
    # anyone may place an order; the operator's token only keeps it out of the per-client count
    assert spec["paths"]["/orders"]["post"]["security"] == no_token + token
    assert client.post("/orders", json=order_body()).status_code == 202
    # listing orders needs it
    assert spec["paths"]["/orders"]["get"]["security"] == token
    assert client.get("/orders").status_code == 401
    # no other operation mentions it (an order's id is the key to it)
    named = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "security" in operation
    }
    assert named == {("/orders", "post"), ("/orders", "get")}


# ---- the per-client limit ---------------------------------------------------------------------


@pytest.fixture
def limited(orders_settings: Settings) -> Iterator[TestClient]:
    yield from app_with(orders_settings, place_rate_limit="2/minute")


def test_placing_orders_is_limited_per_client(limited: TestClient) -> None:
    for _ in range(2):
        assert limited.post("/orders", json=order_body()).status_code == 202
    over = limited.post("/orders", json=order_body())
    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert over.json() == too_many_body("2 per minute")
    assert limited.post("/orders", json={}).status_code == 429  # counted before it is parsed
    assert limited.get("/products").status_code == 200  # only placing orders is limited


def test_the_operators_orders_are_not_counted_and_a_wrong_token_is_a_customer(
    limited: TestClient,
) -> None:
    # the scenario places hundreds of orders a minute as the operator (docs/security.md)
    for _ in range(5):
        assert limited.post("/orders", json=order_body(), headers=operator()).status_code == 202
    stranger = {"Authorization": "Bearer not-the-token"}
    for _ in range(2):
        assert limited.post("/orders", json=order_body(), headers=stranger).status_code == 202
    assert limited.post("/orders", json=order_body(), headers=stranger).status_code == 429
    assert limited.post("/orders", json=order_body()).status_code == 429  # the same client
    assert limited.post("/orders", json=order_body(), headers=operator()).status_code == 202


# ---- what the pages may do in a browser ---------------------------------------------------------


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [a for a in names if a.startswith("on")]
        self._in_script = tag == "script" and "src" not in names
        if self._in_script:
            self.inline.append("")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline[-1] += data


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    order = client.post("/orders", json=order_body()).json()
    answers = {
        "storefront": client.get("/"),
        "order page": client.get(f"/orders/{order['id']}", headers={"Accept": "text/html"}),
        "docs": client.get("/docs"),
        "a script": client.get("/static/order.js"),
        "JSON": client.get(f"/orders/{order['id']}"),
        "an error": client.get("/nowhere"),
        "413": client.post("/orders", content=b" " * 20_000),
    }
    for what, resp in answers.items():
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp, what
        assert "'unsafe-inline'" not in csp, what
        assert "'unsafe-eval'" not in csp, what
        assert "frame-ancestors 'none'" in csp, what
        assert resp.headers["x-content-type-options"] == "nosniff", what
        assert resp.headers["referrer-policy"] == "no-referrer", what


@pytest.mark.parametrize("page", ["/", "/docs", "an order's page"])
def test_the_pages_have_no_inline_script(client: TestClient, page: str) -> None:
    if page.startswith("/"):
        html = client.get(page)
    else:
        order = client.post("/orders", json=order_body()).json()
        html = client.get(f"/orders/{order['id']}", headers={"Accept": "text/html"})
    scripts = Scripts()
    scripts.feed(html.text)
    assert scripts.inline == []
    assert scripts.handlers == []


def test_cors_is_closed_unless_configured(client: TestClient) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/products", headers=origin).headers
    preflight = client.options(
        "/orders", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


@pytest.fixture
def shop_origin(orders_settings: Settings) -> Iterator[TestClient]:
    yield from app_with(orders_settings, cors_origins=["https://shop.example"])


def test_configured_origins_and_only_they_may_call_the_api(shop_origin: TestClient) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key",
    }
    ok = shop_origin.options("/orders", headers={"Origin": "https://shop.example", **asked})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    other = shop_origin.options("/orders", headers={"Origin": "https://evil.example", **asked})
    assert "access-control-allow-origin" not in other.headers
    got = shop_origin.get("/products", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in got.headers


# ---- 405 names every method a path serves -------------------------------------------------------


def test_every_path_answers_405_with_every_method_it_serves(client: TestClient) -> None:
    order_id = client.post("/orders", json=order_body()).json()["id"]
    params = {"order_id": order_id, "name": "order.js"}
    served: dict[str, set[str]] = {}
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute | Route):
            path = route.path.format(**params)
            if route.path == "/docs/assets/{name}":
                path = "/docs/assets/swagger-ui.css"
            served.setdefault(path, set()).update(route.methods or ())
    assert {"/orders", "/orders/" + order_id, "/", "/docs", "/openapi.json"} <= set(served)
    for path, methods in served.items():
        allow = ", ".join(sorted(methods))
        for method in sorted(METHODS - methods):
            resp = client.request(method, path)
            assert resp.status_code == 405, (method, path, resp.status_code)
            assert resp.headers["allow"] == allow, (method, path)
            if method != "HEAD":
                [problem] = resp.json()["errors"]
                assert problem["problem"] == f"{method} not allowed; allowed: {allow}"
    assert served["/orders"] == {"GET", "POST"}


# ---- patterns, in words -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "where", "field"),
    [
        (("POST", "/orders", {"Idempotency-Key": "has space"}), "header", "Idempotency-Key"),
        (("POST", "/orders", {"X-Correlation-ID": "corr id"}), "header", "X-Correlation-Id"),
        (("GET", "/orders/has%20space", {}), "path", "order_id"),
        (("GET", "/orders/has%20space/events", {}), "path", "order_id"),
    ],
)
def test_a_pattern_mismatch_is_explained_in_words(
    client: TestClient, request_: tuple[str, str, dict[str, str]], where: str, field: str
) -> None:
    method, url, headers = request_
    resp = client.request(method, url, headers=headers, json=order_body())
    assert resp.status_code == 422
    problems = {f"{e['in']}:{e['field']}": e["problem"] for e in resp.json()["errors"]}
    problem = problems[f"{where}:{field}"]
    assert problem == PATTERN_WORDS[KEY_PATTERN]
    assert "printable ASCII" in problem
    assert "no spaces" in problem
    assert not re.search(r"[\\^$\[]", problem), "the regex itself leaked into the message"


def test_a_malformed_sku_is_explained_in_words(client: TestClient) -> None:
    body = order_body(lines=[{"sku": "mug blue", "quantity": 1}])
    [problem] = client.post("/orders", json=body).json()["errors"]
    assert problem["problem"].startswith("capital letters and digits")
