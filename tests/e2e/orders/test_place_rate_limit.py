"""The per-client limit on placing orders in the API process as `make up` runs it (the Procfile's
command: uvicorn, proxy headers off), with a low ORDERS_PLACE_RATE_LIMIT.

In-process tests (tests/integration/orders/test_security.py) see one made-up client; here every
request comes over a connection of its own, from its own port, as separate visits do, and the
limit still counts them as one client address, which no header can change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.orders.api.errors import TOO_MANY
from tests.support.broker import TestBroker
from tests.support.orders import order_body
from tests.support.system import System, running_system

LIMIT, LIMIT_IN_WORDS, WINDOW_SECONDS = "2/minute", "2 per minute", 60
# What a proxy would send: the API must not take the client's word for who it is.
POSING = {"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7", "Forwarded": "for=x"}


@pytest.fixture
def system(test_broker: TestBroker, tmp_path: Path) -> Iterator[System]:
    extra = {"ORDERS_PLACE_RATE_LIMIT": LIMIT}
    with running_system(tmp_path, ("orders-api",), extra_env=extra) as running:
        yield running


def place(system: System, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST /orders over a new connection (a new client port each time)."""
    return httpx.post(f"{system.api_url}/orders", json=order_body(), headers=headers, timeout=10)


def test_a_client_over_the_limit_gets_429_with_retry_after(system: System) -> None:
    for _ in range(2):
        assert place(system).status_code == 202
    over = place(system)
    assert over.status_code == 429, over.text
    assert 1 <= int(over.headers["retry-after"]) <= WINDOW_SECONDS
    assert over.headers["content-type"] == "application/json"
    body = over.json()
    assert (body["error"], body["message"]) == TOO_MANY
    [problem] = body["errors"]
    assert (problem["field"], problem["in"]) == ("(request)", "request")
    assert LIMIT_IN_WORDS in problem["problem"]

    assert place(system, POSING).status_code == 429  # still the same client address
    assert httpx.get(f"{system.api_url}/products").status_code == 200  # only placing is limited
