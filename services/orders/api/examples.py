"""The example answers /docs shows for an order (fixed ids and times: documentation, not data).

They live with the API rather than on the read model, so the model says what an order is and the
API says how to show one; tests/unit/orders/test_openapi_example.py checks each is a valid answer.
"""

from __future__ import annotations

from typing import Any

ORDER_ID = "0b9e4f1c-3c5e-4b7a-9a0e-5d1f6f0c2a11"
PLACED_EVENT_ID = "9d1e0c44-0f6a-4f53-9a51-2b1c3f1d7e01"
RESERVED_EVENT_ID = "5f0c8a9e-2d4b-4e1a-8c3f-9b7d6e5a4c21"
CONFIRMED_EVENT_ID = "c3a7f2e1-6b0d-4c9e-8f1a-7e2d5b4c3a10"


def _step(
    at: str, what: str, status: str | None = None, event_id: str | None = None
) -> dict[str, Any]:
    return {"at": f"2026-11-22T10:00:{at}Z", "what": what, "status": status, "event_id": event_id}


_ORDER: dict[str, Any] = {
    "id": ORDER_ID,
    "customer_email": "ada@example.com",
    "currency": "EUR",
    "lines": [
        {
            "sku": "MUG-BLUE",
            "name": "Mug, blue",
            "quantity": 2,
            "unit_price": "8.50",
            "line_total": "17.00",
        },
    ],
    "total": "17.00",
    "created_at": "2026-11-22T10:00:00.000Z",
}

PLACED_ORDER_EXAMPLE: dict[str, Any] = {
    **_ORDER,
    "status": "PENDING",
    "updated_at": "2026-11-22T10:00:00.000Z",
    "timeline": [
        _step("00.000", "order accepted", "PENDING"),
        _step("00.001", "order.placed recorded", event_id=PLACED_EVENT_ID),
    ],
}

CONFIRMED_ORDER_EXAMPLE: dict[str, Any] = {
    **_ORDER,
    "status": "CONFIRMED",
    "updated_at": "2026-11-22T10:00:00.210Z",
    "timeline": [
        *PLACED_ORDER_EXAMPLE["timeline"],
        _step("00.006", "order.placed published", event_id=PLACED_EVENT_ID),
        _step("00.200", "stock reserved: MUG-BLUE x2", "CONFIRMED", RESERVED_EVENT_ID),
        _step("00.200", "order confirmed", "CONFIRMED"),
        _step("00.201", "order.confirmed recorded", event_id=CONFIRMED_EVENT_ID),
        _step("00.210", "order.confirmed published", event_id=CONFIRMED_EVENT_ID),
    ],
}

ORDER_PAGE_EXAMPLE: dict[str, Any] = {
    "items": [CONFIRMED_ORDER_EXAMPLE],
    "page": 1,
    "page_size": 20,
    "total": 1,
    "next_page": None,
}


def example_answer(status: int, example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses` entry that shows `example` as its JSON answer for `status`."""
    return {status: {"content": {"application/json": {"example": example}}}}
