"""Live updates for the order pages (docs/storefront.md): each API process consumes the order
events that end PENDING through its own exclusive queue (`bridge`), and wakes the streams of its
browsers (`hub`); a woken stream reads the order's new steps from the database."""

from services.orders.live.bridge import LiveBridge
from services.orders.live.hub import Hub, Watcher

__all__ = ["Hub", "LiveBridge", "Watcher"]
