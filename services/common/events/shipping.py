"""Events produced by the shipping service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from services.common.events.envelope import EventData
from services.common.events.orders import EmailAddress
from services.common.topology import SHIPMENT_DISPATCHED

SHIPPING_SOURCE = "/shopflow/shipping"


class ShipmentDispatched(EventData):
    """A confirmed order was handed to a carrier: how to follow its parcel."""

    event_type: ClassVar[str] = SHIPMENT_DISPATCHED
    schema_version: ClassVar[int] = 1
    source: ClassVar[str] = SHIPPING_SOURCE

    order_id: str = Field(min_length=1, max_length=64)
    customer_email: EmailAddress
    carrier: str = Field(min_length=1, max_length=64, examples=["DHL Express"])
    tracking_number: str = Field(min_length=1, max_length=64, examples=["DHX4F2A9C01B7"])
    dispatched_at: AwareDatetime

    def timeline_note(self) -> str:
        return f"shipment dispatched: {self.carrier}, tracking number {self.tracking_number}"
