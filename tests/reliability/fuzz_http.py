"""The oracle of the hostile-HTTP scenario: what every answer of the orders API must satisfy.

- never a 5xx;
- a 4xx is the documented error JSON `{error, message, errors: [{field, in, problem}]}` whose
  fields name something the client sent (or the documented body fields);
- a refused request leaves every table of the orders database exactly as it was, and an
  accepted one adds exactly one order with its lines, its history entry, its event row and (if
  one was given) its Idempotency-Key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from hypothesis import currently_in_test_context, event
from sqlalchemy import func, select

from services.common.db import Database
from services.orders.api.schemas import PlaceOrderRequest
from services.orders.models import Base
from tests.support.pgdb import throwaway_database

ERROR_KEYS = {"error", "message", "errors"}
ITEM_KEYS = {"field", "in", "problem"}
LOCATIONS = {"body", "query", "path", "header", "method", "dependency"}
JSON = {"content-type": "application/json"}
BODY_FIELDS = set(PlaceOrderRequest.model_fields)
HEADER_FIELDS = {"Idempotency-Key", "X-Correlation-Id", "Authorization"}


def row_counts(db: Database) -> dict[str, int]:
    """Rows of every table the orders service has (taken from its metadata, not listed here)."""
    with db.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in Base.metadata.sorted_tables
        }


@dataclass(frozen=True)
class Sent:
    """What the client sent, as far as the oracle needs it."""

    body_keys: frozenset[str] = frozenset()
    query_keys: frozenset[str] = frozenset()
    lines: int = 0  # lines in an order that may be accepted
    idempotency_key: bool = False


def error_items(resp: httpx.Response) -> list[dict[str, Any]]:
    """The `errors` of a 4xx answer, after checking the whole documented shape."""
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body, dict), body
    assert set(body) == ERROR_KEYS, body
    assert all(isinstance(body[k], str) for k in ("error", "message")), body
    assert body["error"], body
    assert body["message"], body
    items = body["errors"]
    assert isinstance(items, list), body
    assert items, body
    for item in items:
        assert set(item) == ITEM_KEYS, item
        assert all(isinstance(item[k], str) and item[k] for k in ITEM_KEYS), item
        assert item["in"] in LOCATIONS, item
    return items


def names_something_sent(item: dict[str, Any], sent: Sent) -> bool:
    field, where = item["field"], item["in"]
    root = field.split(".")[0]
    if where == "body":
        return field in {"(body)", *sent.body_keys} or root in BODY_FIELDS | sent.body_keys
    if where == "query":
        return root in sent.query_keys
    if where == "header":
        return field in HEADER_FIELDS
    return where in {"path", "method"}


def check(resp: httpx.Response, before: dict[str, int], after: dict[str, int], sent: Sent) -> None:
    """Everything the oracle demands of one request/answer pair."""
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:500]}"
    if resp.status_code >= 400:
        items = error_items(resp)
        unnamed = [i for i in items if not names_something_sent(i, sent)]
        assert not unnamed, f"errors naming nothing that was sent: {unnamed} ({sent})"
        assert after == before, f"a {resp.status_code} changed rows: {diff(before, after)}"
        return
    if resp.status_code == 202 and resp.headers.get("idempotent-replayed") != "true":
        grown = diff(before, after)
        expected = {"orders": 1, "order_lines": sent.lines, "order_history": 1, "outbox": 1}
        if sent.idempotency_key:
            expected["idempotency_keys"] = 1
        assert grown == expected, grown
    else:
        assert after == before, f"a {resp.status_code} changed rows: {diff(before, after)}"


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after if after[k] != before.get(k)}


def sent_raw(content: bytes) -> Sent:
    """What a raw body amounts to, as far as Python's own parser can tell."""
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        return Sent()
    return Sent(body_keys=keys_of(value), lines=count_lines(value))


def keys_of(value: object) -> frozenset[str]:
    return frozenset(value) if isinstance(value, dict) else frozenset()


def count_lines(value: object) -> int:
    lines: Iterable[object] = value.get("lines", []) if isinstance(value, dict) else []
    return len(list(lines)) if isinstance(lines, list) else 0


# ---- the app under test, and what the tests say about its answers ---------------------------


class Api:
    def __init__(self, client: TestClient, db: Database) -> None:
        self.client = client
        self.db = db

    def send(self, method: str, url: str, sent: Sent | None = None, **kw: Any) -> httpx.Response:
        before = row_counts(self.db)
        resp: httpx.Response = self.client.request(method, url, **kw)
        if currently_in_test_context():  # the mix shows with --hypothesis-show-statistics
            event(f"{method} {resp.status_code}")
        check(resp, before, row_counts(self.db), sent or Sent())
        return resp

    def post_json(self, body: object, headers: dict[str, Any] | None = None) -> httpx.Response:
        """Encoded here, not by httpx: NaN and lone surrogates must reach the server."""
        sent = Sent(
            body_keys=keys_of(body),
            lines=count_lines(body),
            idempotency_key=bool(headers and "Idempotency-Key" in headers),
        )
        content = json.dumps(body).encode()
        all_headers = {**JSON, **(headers or {})}
        return self.send("POST", "/orders", sent, content=content, headers=all_headers)


def database(kind: str, tmp: Path) -> AbstractContextManager[str]:
    if kind == "postgres":
        return throwaway_database("orders_hostile")
    return nullcontext(f"sqlite:///{tmp}/orders.db")


def refused(resp: httpx.Response, status: int, field: str, where: str = "body") -> list[str]:
    """The answer is `status` and names `where:field`; returns the problems it gives."""
    assert resp.status_code == status, resp.text[:500]
    items = error_items(resp)
    named = {f"{i['in']}:{i['field']}": i["problem"] for i in items}
    assert f"{where}:{field}" in named, named
    return list(named.values())


def line(sku: object = "MUG-BLUE", quantity: object = 1) -> dict[str, object]:
    return {"sku": sku, "quantity": quantity}


def deep(depth: int, leaf: bytes = b"1") -> bytes:
    """JSON nested `depth` levels, built as bytes: json.dumps itself would hit the recursion
    limit."""
    return b'{"a":' * depth + leaf + b"}" * depth


def raw(*parts: bytes) -> bytes:
    return b"".join(parts)
