"""Events produced by the inventory service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from services.common.events.envelope import EventData
from services.common.events.orders import SKU_PATTERN
from services.common.topology import STOCK_REJECTED, STOCK_RELEASED, STOCK_RESERVED

INVENTORY_SOURCE = "/shopflow/inventory"


class ReservedLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(pattern=SKU_PATTERN)
    quantity: int = Field(strict=True, ge=1, le=1000)


class Shortage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(pattern=SKU_PATTERN)
    requested: int = Field(strict=True, ge=1)
    available: int = Field(strict=True, ge=0)


class StockReserved(EventData):
    """Every line of the order is reserved (all or nothing)."""

    event_type: ClassVar[str] = STOCK_RESERVED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = INVENTORY_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    lines: tuple[ReservedLine, ...] = Field(min_length=1, max_length=100)


class StockRejected(EventData):
    """At least one line could not be reserved; nothing was reserved."""

    event_type: ClassVar[str] = STOCK_REJECTED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = INVENTORY_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    shortages: tuple[Shortage, ...] = Field(min_length=1, max_length=100)


class StockReleased(EventData):
    """A reservation was given back (the order expired)."""

    event_type: ClassVar[str] = STOCK_RELEASED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = INVENTORY_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    lines: tuple[ReservedLine, ...] = Field(max_length=100)

    def timeline_note(self) -> str:
        released = ", ".join(f"{line.sku} x{line.quantity}" for line in self.lines) or "nothing"
        return f"stock released: {released}"
