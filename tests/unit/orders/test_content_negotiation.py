"""GET /orders/{id} answers the page to a browser and JSON to everyone else (api/pages.py)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from services.orders.api.pages import prefers_html


def request(accept: str | None) -> Request:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Chromium
        ("text/html", True),
        (None, False),  # curl without -H, most libraries
        ("*/*", False),  # fetch(), httpx, curl
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.5, application/json;q=0.9", False),
        ("text/html;q=0", False),
        ("text/html;q=nonsense", False),
    ],
)
def test_only_a_client_that_prefers_html_gets_the_page(accept: str | None, html: bool) -> None:
    assert prefers_html(request(accept)) is html
