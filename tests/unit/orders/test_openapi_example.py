"""The example /docs shows for an order is a valid answer."""

from __future__ import annotations

from services.orders.views import CONFIRMED_ORDER_EXAMPLE, OrderView


def test_the_openapi_example_is_a_valid_order_view() -> None:
    view = OrderView.model_validate(CONFIRMED_ORDER_EXAMPLE)
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)
