"""The orders HTTP API against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.common.events import Envelope, OrderPlaced
from services.common.topology import EXPRESS_PRIORITY, ORDER_PLACED, STANDARD_PRIORITY
from services.orders.bootstrap import Container
from tests.support.orders import operator, order_body, outbox_rows


def problems(resp: Any) -> dict[str, str]:
    body = resp.json()
    assert set(body) == {"error", "message", "errors"}
    return {f"{e['in']}:{e['field']}": e["problem"] for e in body["errors"]}


def test_an_accepted_order_is_priced_from_the_catalogue_and_stored_with_its_event(
    client: TestClient, container: Container
) -> None:
    resp = client.post("/orders", json=order_body(), headers={"X-Correlation-ID": "corr-42"})

    assert resp.status_code == 202
    order = resp.json()
    assert resp.headers["location"] == f"/orders/{order['id']}"
    assert order["status"] == "PENDING"
    assert order["currency"] == "EUR"
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in order["lines"]] == [
        ("MUG-BLUE", 2, "8.50"),
        ("TEE-M", 1, "19.90"),
    ]
    assert order["total"] == "36.90"

    [row] = outbox_rows(container.db)
    envelope = Envelope[OrderPlaced].model_validate_json(row.payload)
    assert envelope.type == ORDER_PLACED
    assert envelope.correlationid == "corr-42"
    assert envelope.data.order_id == order["id"]
    assert envelope.data.total == Decimal("36.90")
    assert row.published_at is None


@pytest.mark.parametrize(
    ("express", "priority"), [(True, EXPRESS_PRIORITY), (False, STANDARD_PRIORITY), (None, 0)]
)
def test_an_orders_outbox_row_carries_its_lane(
    client: TestClient, container: Container, express: bool | None, priority: int
) -> None:
    """docs/priorities.md: the relay publishes the row's priority; `express` is in the event
    only when true (a standard order's event is what it was before the field)."""
    body = order_body() if express is None else {**order_body(), "express": express}
    assert client.post("/orders", json=body).status_code == 202
    [row] = outbox_rows(container.db)
    assert row.priority == priority
    data = json.loads(row.payload)["data"]
    assert data.get("express") is (True if express else None)


def test_a_client_price_is_refused_not_trusted(client: TestClient) -> None:
    body = order_body()
    body["lines"][0]["unit_price"] = "0.01"
    resp = client.post("/orders", json=body)
    assert resp.status_code == 422
    assert "unknown field" in problems(resp)["body:lines.0.unit_price"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"customer_email": "not-an-email"}, "customer_email"),
        ({"customer_email": "ada@"}, "customer_email"),
        ({"customer_email": 42}, "customer_email"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": 1}] * 101}, "lines"),
        ({"lines": "MUG-BLUE"}, "lines"),
        ({"lines": [{"sku": "mug blue", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": "", "quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"quantity": 1}]}, "lines.0.sku"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": 1001}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": "2"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": 2.5}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "MUG-BLUE", "quantity": True}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "MUG-BLUE"}]}, "lines.0.quantity"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"coupon": "FREE"}, "coupon"),
        ({"express": "yes"}, "express"),
        ({"express": 1}, "express"),
        ({"express": None}, "express"),
    ],
)
def test_each_bad_field_is_named(client: TestClient, patch: dict[str, Any], field: str) -> None:
    resp = client.post("/orders", json={**order_body(), **patch})
    assert resp.status_code == 422
    assert f"body:{field}" in problems(resp)
    assert resp.json()["error"] == "validation_failed"


def test_missing_fields_are_each_named(client: TestClient) -> None:
    resp = client.post("/orders", json={})
    assert resp.status_code == 422
    assert problems(resp) == {"body:customer_email": "required", "body:lines": "required"}


@pytest.mark.parametrize(
    ("content", "field"),
    [(b"{not json", "(body)"), (b"[1, 2]", "(body)"), (b"", "(body)")],
)
def test_a_body_that_is_not_an_order_object_is_rejected(
    client: TestClient, content: bytes, field: str
) -> None:
    resp = client.post("/orders", content=content, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert f"body:{field}" in problems(resp)


def test_unknown_sku_and_duplicate_lines_are_named_by_position(client: TestClient) -> None:
    lines = [
        {"sku": "MUG-BLUE", "quantity": 1},
        {"sku": "NOPE-1", "quantity": 1},
        {"sku": "MUG-BLUE", "quantity": 3},
    ]
    resp = client.post("/orders", json=order_body(lines=lines))
    assert resp.status_code == 422
    found = problems(resp)
    assert "unknown SKU NOPE-1" in found["body:lines.1.sku"]
    assert "appears twice" in found["body:lines.2.sku"]


def test_a_currency_the_catalogue_does_not_sell_in_is_rejected(client: TestClient) -> None:
    resp = client.post("/orders", json=order_body(currency="USD"))
    assert resp.status_code == 422
    assert "not in USD" in problems(resp)["body:currency"]


def test_a_too_large_body_gets_413(client: TestClient) -> None:
    resp = client.post(
        "/orders", content=b" " * (17 * 1024), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 413
    assert "body:(body)" in problems(resp)


def test_idempotency_key_replay_returns_the_original_order_and_adds_no_event(
    client: TestClient, container: Container
) -> None:
    headers = {"Idempotency-Key": "order-7f3a"}
    first = client.post("/orders", json=order_body(), headers=headers)
    # Same request, spelled differently (key order, explicit default currency): still the same.
    body = {"lines": order_body()["lines"], "currency": "EUR", "customer_email": "ada@example.com"}
    again = client.post("/orders", json=body, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(outbox_rows(container.db)) == 1
    assert client.get("/orders", headers=operator()).json()["total"] == 1


def test_idempotency_key_with_a_different_body_is_a_conflict(
    client: TestClient, container: Container
) -> None:
    headers = {"Idempotency-Key": "order-7f3a"}
    assert client.post("/orders", json=order_body(), headers=headers).status_code == 202
    resp = client.post("/orders", json=order_body("bob@example.com"), headers=headers)
    assert resp.status_code == 409
    assert "header:Idempotency-Key" in problems(resp)
    assert len(outbox_rows(container.db)) == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256])
def test_a_malformed_idempotency_key_is_named(client: TestClient, key: str) -> None:
    resp = client.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    assert resp.status_code == 422
    assert "header:Idempotency-Key" in problems(resp)


def test_get_order_shows_status_and_timeline(client: TestClient) -> None:
    created = client.post("/orders", json=order_body()).json()
    resp = client.get(f"/orders/{created['id']}")
    assert resp.status_code == 200
    order = resp.json()
    assert order["status"] == "PENDING"
    whats = [entry["what"] for entry in order["timeline"]]
    assert whats == ["order accepted", f"{ORDER_PLACED} recorded"]
    assert order["timeline"][0]["status"] == "PENDING"


def test_the_accepted_order_is_what_a_following_get_returns(client: TestClient) -> None:
    """POST answers from the objects it wrote, a replay reads them back: both match GET."""
    headers = {"Idempotency-Key": "order-same-body", "X-Correlation-ID": "corr-7"}
    body = order_body("zoë@example.com")
    body["lines"] = [{"sku": "TEE-M", "quantity": 3}, {"sku": "MUG-BLUE", "quantity": 1}]
    posted = client.post("/orders", json=body, headers=headers)
    fetched = client.get(posted.headers["location"])
    replayed = client.post("/orders", json=body, headers=headers)

    assert posted.status_code == replayed.status_code == 202
    assert fetched.status_code == 200
    assert posted.content == fetched.content == replayed.content
    assert posted.headers["content-type"] == fetched.headers["content-type"]
    assert [e["what"] for e in posted.json()["timeline"]] == [
        "order accepted",
        f"{ORDER_PLACED} recorded",
    ]


def test_unknown_order_is_404_naming_the_id(client: TestClient) -> None:
    resp = client.get("/orders/does-not-exist")
    assert resp.status_code == 404
    assert problems(resp) == {"path:order_id": "no such order"}


def test_unknown_route_is_404_and_wrong_method_is_405(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert "path:path" in problems(missing)
    wrong = client.delete("/orders")
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["allow"]
    assert "method:method" in problems(wrong)


def test_orders_are_paginated_newest_first_and_filtered_by_status(client: TestClient) -> None:
    ids = [
        client.post("/orders", json=order_body(f"c{i}@example.com")).json()["id"] for i in range(5)
    ]
    first = client.get("/orders", params={"page_size": 2}, headers=operator()).json()
    assert (first["total"], first["page"], first["next_page"]) == (5, 1, 2)
    pages = [first]
    while pages[-1]["next_page"]:
        pages.append(
            client.get(
                "/orders",
                params={"page_size": 2, "page": pages[-1]["next_page"]},
                headers=operator(),
            ).json()
        )
    seen = [item["id"] for page in pages for item in page["items"]]
    assert seen == list(reversed(ids))
    assert len(pages) == 3

    pending = client.get("/orders", params={"status": "PENDING"}, headers=operator()).json()
    assert pending["total"] == 5
    confirmed = client.get("/orders", params={"status": "CONFIRMED"}, headers=operator()).json()
    assert (confirmed["total"], confirmed["items"], confirmed["next_page"]) == (0, [], None)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "SHIPPED"}, "status"), ({"page": 0}, "page"), ({"page_size": 1000}, "page_size")],
)
def test_bad_list_parameters_are_named(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    resp = client.get("/orders", params=params, headers=operator())
    assert resp.status_code == 422
    assert f"query:{field}" in problems(resp)


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    examples = spec["paths"]["/orders"]["post"]["requestBody"]["content"]["application/json"]
    assert "two items" in examples["examples"]
