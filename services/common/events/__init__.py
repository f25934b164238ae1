"""Event contracts: the only place that describes a payload's shape."""

from services.common.events.envelope import Envelope, EventData
from services.common.events.inventory import (
    ReservedLine,
    Shortage,
    StockRejected,
    StockReleased,
    StockReserved,
)
from services.common.events.orders import (
    OrderConfirmed,
    OrderExpired,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderUpdated,
)
from services.common.events.registry import EVENT_MODELS, InvalidEvent, parse_event

__all__ = [
    "EVENT_MODELS",
    "Envelope",
    "EventData",
    "InvalidEvent",
    "OrderConfirmed",
    "OrderExpired",
    "OrderLine",
    "OrderPlaced",
    "OrderRejected",
    "OrderUpdated",
    "ReservedLine",
    "Shortage",
    "StockRejected",
    "StockReleased",
    "StockReserved",
    "parse_event",
]
