"""Events produced by the orders service."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from services.common.events.envelope import EventData
from services.common.events.money import Currency, Money
from services.common.topology import (
    ORDER_CONFIRMED,
    ORDER_EXPIRED,
    ORDER_PLACED,
    ORDER_REJECTED,
    ORDER_UPDATED,
)

SKU_PATTERN = r"^[A-Z0-9]{2,10}(-[A-Z0-9]{1,10}){0,3}$"
ORDERS_SOURCE = "/shopflow/orders"

# The address as the orders API accepted it: checked there in full (email-validator, which also
# normalizes it), so an event's consumers check only its shape. The full check costs about a
# tenth of a millisecond per event, most of a consumer's validation (docs/events.md).
EmailAddress = Annotated[
    str,
    Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(pattern=SKU_PATTERN, examples=["MUG-BLUE"])
    quantity: int = Field(strict=True, ge=1, le=1000)
    unit_price: Money


class _PricedOrder(EventData):
    """The order as priced by the orders service: what `order.placed` and `order.confirmed`
    carry, so consumers never have to ask the orders service for it."""

    order_id: str = Field(min_length=1, max_length=64)
    customer_email: EmailAddress
    lines: tuple[OrderLine, ...] = Field(min_length=1, max_length=100)
    total: Money
    currency: Currency

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> Self:
        expected = sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))
        if expected != self.total:
            raise ValueError(f"total {self.total} is not the sum of the lines ({expected})")
        return self


class OrderPlaced(_PricedOrder):
    """An order was accepted and is waiting for stock."""

    event_type: ClassVar[str] = ORDER_PLACED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = ORDERS_SOURCE

    # Optional, with a default, and left out of the payload when it has it: an event written
    # before it existed still parses, and a standard order's event is exactly what it was, so
    # a consumer deployed before the field reads it as before (schema_version stays 1:
    # docs/events.md).
    express: bool = Field(
        default=False,
        strict=True,
        exclude_if=lambda express: not express,
        description="served first: its events carry a high AMQP priority (docs/priorities.md)",
    )


class OrderConfirmed(_PricedOrder):
    """Stock was reserved for every line; the order is final."""

    event_type: ClassVar[str] = ORDER_CONFIRMED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = ORDERS_SOURCE


class OrderRejected(EventData):
    """Inventory could not reserve every line; nothing was reserved."""

    event_type: ClassVar[str] = ORDER_REJECTED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = ORDERS_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    customer_email: EmailAddress
    reason: str = Field(min_length=1, max_length=500)
    short_skus: tuple[str, ...] = Field(max_length=100)


class OrderExpired(EventData):
    """No answer from inventory in time; whatever inventory reserved for it must be released."""

    event_type: ClassVar[str] = ORDER_EXPIRED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = ORDERS_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    customer_email: EmailAddress


class OrderUpdated(EventData):
    """A step was added to the order's timeline because of another service's event (stock
    released, say); its status did not change. The storefront's live pages follow it."""

    event_type: ClassVar[str] = ORDER_UPDATED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = ORDERS_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    step: str = Field(
        min_length=1, max_length=500, description="the step, as the timeline shows it"
    )
