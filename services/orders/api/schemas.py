"""The HTTP request and error shapes, with the examples shown at /docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.common.events.money import Currency
from services.common.events.orders import SKU_PATTERN

KEY_PATTERN = r"^[\x21-\x7e]+$"  # printable ASCII, no spaces


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(pattern=SKU_PATTERN, max_length=64, examples=["MUG-BLUE"])
    quantity: int = Field(strict=True, ge=1, le=1000, examples=[2])


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_email: EmailStr = Field(max_length=254, examples=["ada@example.com"])
    lines: list[LineIn] = Field(min_length=1, max_length=100)
    currency: Currency = Field(default="EUR", description="defaults to EUR, the catalogue's")
    express: bool = Field(
        default=False,
        strict=True,
        description="served before standard orders by every service (docs/priorities.md)",
    )


PLACE_ORDER_EXAMPLES: dict[str, Any] = {
    "two items": {
        "summary": "A mug and a T-shirt",
        "value": {
            "customer_email": "ada@example.com",
            "lines": [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}],
        },
    },
    "explicit currency": {
        "summary": "One poster, currency given",
        "value": {
            "customer_email": "grace@example.org",
            "lines": [{"sku": "POSTER-A2", "quantity": 1}],
            "currency": "EUR",
        },
    },
    "express": {
        "summary": "An express order, served first",
        "value": {
            "customer_email": "ada@example.com",
            "lines": [{"sku": "MUG-BLUE", "quantity": 1}],
            "express": True,
        },
    },
    "invalid": {
        "summary": "Rejected with 422: bad email, quantity 0, unknown field",
        "value": {
            "customer_email": "not-an-email",
            "lines": [{"sku": "MUG-BLUE", "quantity": 0}],
            "coupon": "FREE",
        },
    },
}


class ErrorItem(BaseModel):
    field: str = Field(examples=["lines.0.quantity"])
    location: str = Field(alias="in", examples=["body"])
    problem: str = Field(examples=["Input should be less than or equal to 1000"])

    model_config = ConfigDict(populate_by_name=True)


class ErrorBody(BaseModel):
    error: str = Field(examples=["validation_failed"])
    message: str = Field(examples=["the request is not valid"])
    errors: list[ErrorItem]


class Health(BaseModel):
    status: str = Field(examples=["ok"])
