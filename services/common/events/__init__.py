"""Event contracts: the only place that describes a payload's shape."""

from services.common.events.envelope import Envelope, EventData
from services.common.events.orders import OrderLine, OrderPlaced
from services.common.events.registry import EVENT_MODELS, InvalidEvent, parse_event

__all__ = [
    "EVENT_MODELS",
    "Envelope",
    "EventData",
    "InvalidEvent",
    "OrderLine",
    "OrderPlaced",
    "parse_event",
]
