"""Scenario 12: hostile HTTP input to the orders API gets a clear 4xx and writes nothing.

The real app (`create_app`) on a real database, SQLite and PostgreSQL: hand-picked attacks first
(oversize, deep JSON, wrong types, huge numbers, unicode, SQL-looking text, thousands of lines),
then a derandomized Hypothesis run over bodies, raw bytes, headers, path and query built from
the request schema. The oracle (`fuzz_http.check`) is the same for both: never a 5xx, the
documented error JSON naming what was wrong, and no row written for a refused request.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.db import Database
from services.common.settings import BrokerSettings
from services.orders.api import create_app
from services.orders.bootstrap import bootstrap
from services.orders.catalogue import seed_catalogue
from services.orders.manage import create_schema
from services.orders.settings import Settings
from tests.reliability import fuzz_bodies as fb
from tests.reliability.fuzz_http import (
    JSON,
    Api,
    Sent,
    database,
    deep,
    line,
    raw,
    refused,
    sent_raw,
)
from tests.support.orders import DB_KINDS, operator, order_body
from tests.support.ports import free_port

pytestmark = pytest.mark.reliability

LIMIT = 64 * 1024  # the default ORDERS_MAX_BODY_BYTES, as deployed
FUZZ = settings(
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", params=DB_KINDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with database(request.param, tmp_path_factory.mktemp("hostile")) as url:
        db = Database(url)
        create_schema(db)
        seed_catalogue(db)
        container = bootstrap(
            Settings(
                database_url=url,
                relay_wake_port=free_port(socket.SOCK_DGRAM),
                max_body_bytes=LIMIT,
                broker=BrokerSettings(),
            )
        )
        with TestClient(create_app(container), raise_server_exceptions=False) as client:
            yield Api(client, db)
        container.close()
        db.dispose()


ORDER = b'"customer_email":"ada@example.com"'
MANY = 1500  # lines: under the byte limit, over the 100-line limit


# ---- hand-picked attacks -----------------------------------------------------------------------


def with_(**patch: object) -> dict[str, object]:
    return {**order_body(), **patch}


WRONG_TYPES = [
    (with_(customer_email=None), "customer_email"),
    (with_(customer_email=["ada@example.com"]), "customer_email"),
    (with_(lines={"sku": "MUG-BLUE", "quantity": 1}), "lines"),
    (with_(lines=None), "lines"),
    (with_(lines=[["MUG-BLUE", 1]]), "lines.0"),
    (with_(lines=[line(sku=42)]), "lines.0.sku"),
    (with_(lines=[line(sku={"$ne": None})]), "lines.0.sku"),
    (with_(lines=[line(quantity=None)]), "lines.0.quantity"),
    (with_(lines=[line(quantity=[1])]), "lines.0.quantity"),
    (with_(lines=[line(quantity=1.0)]), "lines.0.quantity"),
    (with_(currency=978), "currency"),
    (with_(currency=None), "currency"),
]
HUGE_QUANTITIES = [
    (with_(lines=[line(quantity=q)]), "lines.0.quantity")
    for q in [10**100, 2**63, -(2**63), -1, 0, 1001, float("inf"), float("nan"), "1000000000000"]
]
NASTY_EMAILS = ["a\x00@example.com", "\ud800@x.org", "ada@example.com\u200b", "@", "x" * 300]
UNICODE = [(with_(lines=[line(sku=s)]), "lines.0.sku") for s in fb.UNICODE_TRICKS] + [
    (with_(customer_email=e), "customer_email") for e in NASTY_EMAILS
]
SQL = [
    (with_(**{name: value}), name)
    for value in fb.SQL_LOOKING
    for name in ("customer_email", "currency")
] + [(with_(lines=[line(sku=s)]), "lines.0.sku") for s in fb.SQL_LOOKING]
MANY_LINES = [
    (with_(lines=[line()] * MANY), "lines"),
    (with_(lines=[line(), line()]), "lines.1.sku"),
    (with_(lines=[line(), *([line("TEE-M")] * 99)]), "lines.2.sku"),
]
UNKNOWN_FIELDS = [
    (with_(__proto__={"admin": True}), "__proto__"),
    ({**order_body(), "": 1}, "(body)"),
    (with_(lines=[{**line(), "unit_price": "0.00"}]), "lines.0.unit_price"),
    (with_(total="0.01"), "total"),
]


@pytest.mark.parametrize(
    ("body", "field"), WRONG_TYPES + HUGE_QUANTITIES + UNICODE + SQL + MANY_LINES + UNKNOWN_FIELDS
)
def test_a_hostile_body_is_refused_and_names_the_field(api: Api, body: object, field: str) -> None:
    refused(api.post_json(body), 422, field)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[" * 50_000 + b"]" * 10_000, "nested too deeply"),
        (raw(b"{", ORDER, b',"lines":', deep(10_000), b"}"), "nested too deeply"),
        (raw(b"{", ORDER, b',"lines":[{"sku":"MUG-BLUE","quantity":', b"9" * 5000, b"}]}"), "4300"),
        (raw(b"{", ORDER.replace(b"ada", b"\xff\xfe"), b',"lines":[]}'), "UTF-8"),
        (b'{"customer_email": "ada@example.com", "lines": [', "invalid JSON"),
        (b"\x00" * 100, "invalid JSON"),
        (b"null", "dictionary"),
        (b'"' + b"A" * 60_000 + b'"', "dictionary"),
    ],
)
def test_malformed_json_is_a_422_about_the_body(api: Api, content: bytes, problem: str) -> None:
    problems = refused(api.send("POST", "/orders", content=content, headers=JSON), 422, "(body)")
    assert any(problem in p for p in problems), problems


def test_moderately_deep_json_in_a_field_names_that_field(api: Api) -> None:
    content = raw(b"{", ORDER, b',"lines":[{"sku":', deep(500), b',"quantity":1}]}')
    refused(api.send("POST", "/orders", content=content, headers=JSON), 422, "lines.0.sku")


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({**order_body(), "lines": [line()] * 5000}).encode(),
        json.dumps({**order_body(), "customer_email": "a" * LIMIT + "@example.com"}).encode(),
        b" " * (LIMIT + 1),
    ],
    ids=["5000-lines", "huge-email", "whitespace"],
)
def test_an_oversize_body_is_413_before_parsing(api: Api, content: bytes) -> None:
    refused(api.send("POST", "/orders", content=content, headers=JSON), 413, "(body)")
    chunked = iter([content[i : i + 4096] for i in range(0, len(content), 4096)])
    refused(api.send("POST", "/orders", content=chunked, headers=JSON), 413, "(body)")
    lying = {**JSON, "content-length": str(10**12)}
    refused(api.send("POST", "/orders", content=b"{}", headers=lying), 413, "(body)")


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"Idempotency-Key": "\u00e4".encode("latin-1")}, "Idempotency-Key"),
        ({"Idempotency-Key": b"key\x00"}, "Idempotency-Key"),
        ({"Idempotency-Key": "k" * 10_000}, "Idempotency-Key"),
        ({"X-Correlation-ID": "corr id"}, "X-Correlation-Id"),
        ({"X-Correlation-ID": "\U0001f600".encode()}, "X-Correlation-Id"),
    ],
)
def test_a_hostile_header_is_named(api: Api, headers: dict[str, Any], field: str) -> None:
    refused(api.post_json(order_body(), headers), 422, field, "header")


@pytest.mark.parametrize(
    ("url", "status", "field", "where"),
    [
        ("/orders/%00", 422, "order_id", "path"),  # was a 500 on PostgreSQL
        ("/orders/a%00b", 422, "order_id", "path"),
        ("/orders/%ED%A0%80", 422, "order_id", "path"),
        ("/orders/%F0%9F%98%80", 422, "order_id", "path"),
        ("/orders/" + "x" * 65, 422, "order_id", "path"),
        ("/orders/" + quote("'OR'1'='1'--", safe=""), 404, "order_id", "path"),
        ("/orders?status=" + quote("PENDING' OR 1=1 --"), 422, "status", "query"),
        ("/orders?page=" + "9" * 5000, 422, "page", "query"),
        ("/orders?page=-1", 422, "page", "query"),
        ("/orders?page_size=1e3", 422, "page_size", "query"),
        ("/orders?page=%00", 422, "page", "query"),
    ],
)
def test_a_hostile_path_or_query_is_named(
    api: Api, url: str, status: int, field: str, where: str
) -> None:
    query = frozenset(p.split("=")[0] for p in url.partition("?")[2].split("&") if p)
    refused(api.send("GET", url, Sent(query_keys=query)), status, field, where)


def test_hostile_looking_text_that_is_valid_is_stored_verbatim(api: Api) -> None:
    """Parameters, not string building: an SQL-looking key and a unicode email are just data."""
    key, corr = fb.SQL_LOOKING[1].replace(" ", "_"), fb.SQL_LOOKING[0].replace(" ", "_")
    body = {**order_body("\u00e4d\u00e4@ex\u00e4mple.com"), "lines": [line(quantity=1000)]}
    created = api.post_json(body, {"Idempotency-Key": key, "X-Correlation-ID": corr})
    assert created.status_code == 202, created.text
    order = api.send("GET", created.headers["location"]).json()
    assert (order["customer_email"], order["total"]) == (body["customer_email"], "8500.00")
    again = api.post_json(body, {"Idempotency-Key": key})
    assert again.headers["idempotent-replayed"] == "true"


# ---- schema-driven fuzzing -----------------------------------------------------------------------


@settings(FUZZ, max_examples=200)
@given(body=fb.anything, key=st.none() | fb.header_values)
def test_fuzzed_bodies_never_5xx_and_a_refusal_writes_nothing(
    api: Api, body: object, key: str | bytes | None
) -> None:
    api.post_json(body, None if key is None else {"Idempotency-Key": key})


@settings(FUZZ, max_examples=80)
@given(content=fb.raw_bodies())
def test_fuzzed_raw_bytes_never_5xx(api: Api, content: bytes) -> None:
    api.send("POST", "/orders", sent_raw(content), content=content, headers=JSON)


@settings(FUZZ, max_examples=80)
@given(
    order_id=fb.path_ids,
    params=st.dictionaries(
        st.sampled_from(["status", "page", "page_size", "x"]), fb.query_values, max_size=3
    ),
)
def test_fuzzed_reads_never_5xx(api: Api, order_id: str, params: dict[str, str]) -> None:
    api.send("GET", "/orders/" + quote(order_id, safe=""))
    sent = Sent(query_keys=frozenset(params))
    api.send("GET", "/orders", sent, params=params, headers=operator())  # the operator's listing
    api.send("GET", "/orders", sent, params=params)  # a stranger's: 401 or a 422 on the query
