"""The example answers /docs shows (fixed ids and times: documentation, not data), and each
route's documented answers.

They live with the API rather than on the read model, so the model says what an order is and the
API says how to show one. tests/unit/orders/test_openapi_example.py checks each order example is a
valid answer, and tests/integration/orders/test_docs.py that each error example is the very body
the API answers (with the default settings) to the request it describes.
"""

from __future__ import annotations

import json
from typing import Any

from services.orders.api.access import NO_CREDENTIALS
from services.orders.api.errors import PATTERN_WORDS, error_body, too_many_body, unauthorized_body
from services.orders.api.schemas import KEY_PATTERN, ErrorBody
from services.orders.errors import FieldProblem

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


STEP_EXAMPLE: dict[str, Any] = {
    **CONFIRMED_ORDER_EXAMPLE["timeline"][4],
    "position": 17,
}


def example_answer(status: int, example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses` entry that shows `example` as its JSON answer for `status`."""
    return {status: {"content": {"application/json": {"example": example}}}}


def _error(description: str, example: dict[str, Any], **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "model": ErrorBody,
        "description": description,
        "content": {"application/json": {"example": example}},
    }
    if headers:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return answer


def _problem(field: str, where: str, problem: str) -> FieldProblem:
    return FieldProblem(field, problem, where)


INVALID_ORDER_422 = error_body(
    "validation_failed",
    "the request is not valid",
    [
        _problem(
            "customer_email",
            "body",
            "value is not a valid email address: An email address must have an @-sign.",
        ),
        _problem("lines.0.quantity", "body", "Input should be greater than or equal to 1"),
        _problem("coupon", "body", "unknown field; allowed fields are listed at /docs"),
    ],
)
KEY_REUSED_409 = error_body(
    "idempotency_conflict",
    "this Idempotency-Key was already used for a different request",
    [_problem("Idempotency-Key", "header", "already used with a different body; use a new key")],
)
TOO_LARGE_413 = error_body(
    "payload_too_large",
    "request body over 65536 bytes",  # ORDERS_MAX_BODY_BYTES, default
    [_problem("(body)", "body", "larger than 65536 bytes")],
)
TOO_MANY_429 = too_many_body("300 per minute")  # ORDERS_PLACE_RATE_LIMIT, default
NOT_FOUND_404 = error_body(
    "not_found",
    f"no order with id {ORDER_ID}",
    [_problem("order_id", "path", "no such order")],
)
BAD_ID_422 = error_body(
    "validation_failed",
    "the request is not valid",
    [_problem("order_id", "path", PATTERN_WORDS[KEY_PATTERN])],
)
NO_TOKEN_401 = unauthorized_body(NO_CREDENTIALS)
BAD_STATUS_422 = error_body(
    "validation_failed",
    "the request is not valid",
    [
        _problem(
            "status",
            "query",
            "Input should be 'PENDING', 'CONFIRMED', 'REJECTED' or 'EXPIRED'",
        )
    ],
)

PLACE_ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted: the order, PENDING. A replay of the same request with the same "
        "Idempotency-Key answers the same order again.",
        "content": {"application/json": {"example": PLACED_ORDER_EXAMPLE}},
        "headers": {
            "Location": {
                "description": "the order: GET it (JSON), or open it in a browser (its page)",
                "schema": {"type": "string", "example": f"/orders/{ORDER_ID}"},
            },
            "Idempotent-Replayed": {
                "description": "`true` when this answers an earlier request with the same key",
                "schema": {"type": "string", "enum": ["true"]},
            },
        },
    },
    409: _error("The Idempotency-Key was used with a different body", KEY_REUSED_409),
    413: _error("Request body too large", TOO_LARGE_413),
    422: _error("A field is missing, unknown or invalid", INVALID_ORDER_422),
    429: _error(
        "Too many orders from this client address",
        TOO_MANY_429,
        **{"Retry-After": "seconds until the next order may be placed"},
    ),
}
GET_ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"example": CONFIRMED_ORDER_EXAMPLE},
            "text/html": {"schema": {"type": "string", "description": "the order's live page"}},
        },
    },
    404: _error("No such order", NOT_FOUND_404),
    422: _error("The id is not 1-64 printable ASCII characters", BAD_ID_422),
}
ORDER_EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`event: step`, `id: <position>`, `data: <step as JSON>`, one per step; "
        f"for example `data: {json.dumps(STEP_EXAMPLE)}`",
    },
    404: _error("No such order", NOT_FOUND_404),
    422: _error("The id, `after` or `Last-Event-ID` is not valid", BAD_ID_422),
}
LIST_ORDERS_RESPONSES: dict[int | str, dict[str, Any]] = {
    **example_answer(200, ORDER_PAGE_EXAMPLE),
    401: _error(
        "No operator token, or not the right one",
        NO_TOKEN_401,
        **{"WWW-Authenticate": "Bearer"},
    ),
    422: _error("A query parameter is not valid", BAD_STATUS_422),
}
