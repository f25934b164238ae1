"""The examples /docs shows for an order are valid answers, and /docs shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder

from services.orders.api import create_app
from services.orders.api.examples import (
    CONFIRMED_ORDER_EXAMPLE,
    ORDER_PAGE_EXAMPLE,
    PLACED_ORDER_EXAMPLE,
)
from services.orders.bootstrap import bootstrap
from services.orders.read import OrderPage, OrderView
from services.orders.settings import Settings


@pytest.mark.parametrize("example", [PLACED_ORDER_EXAMPLE, CONFIRMED_ORDER_EXAMPLE])
def test_the_openapi_example_is_a_valid_order_view(example: dict[str, Any]) -> None:
    view = OrderView.model_validate(example)
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)


def test_the_page_example_is_a_valid_order_page() -> None:
    OrderPage.model_validate(ORDER_PAGE_EXAMPLE)


@pytest.mark.parametrize(
    ("path", "method", "status", "example"),
    [
        ("/orders", "post", "202", PLACED_ORDER_EXAMPLE),
        ("/orders/{order_id}", "get", "200", CONFIRMED_ORDER_EXAMPLE),
        ("/orders", "get", "200", ORDER_PAGE_EXAMPLE),
    ],
)
def test_the_docs_show_the_examples(
    path: str, method: str, status: str, example: dict[str, Any], tmp_path: Path
) -> None:
    container = bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/orders.db"))
    try:
        spec = create_app(container).openapi()
    finally:
        container.close()
    answer = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
    assert answer["example"] == jsonable_encoder(example, exclude_none=True)  # as FastAPI shows
    assert answer["schema"]["$ref"].endswith(("/OrderView", "/OrderPage"))
