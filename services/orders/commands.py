"""What the API asks the orders service to do or to tell, already parsed and validated for shape."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from services.orders.status import OrderStatus


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PlaceOrder:
    customer_email: str
    lines: tuple[RequestedLine, ...]
    currency: str
    idempotency_key: str | None = None
    correlation_id: str | None = None
    express: bool = False

    def request_hash(self) -> str:
        """Fingerprint of what was asked (not of how the JSON was spelled) for Idempotency-Key.
        `express` counts only when true: a standard order's fingerprint is what it was before
        the field existed, so a key stored then still matches its replay."""
        asked: dict[str, object] = {
            "customer_email": self.customer_email,
            "currency": self.currency,
            "lines": [[line.sku, line.quantity] for line in self.lines],
        }
        if self.express:
            asked["express"] = True
        canonical = json.dumps(
            asked,
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ListOrders:
    """One page of orders, newest first, optionally only those in one status."""

    status: OrderStatus | None = None
    page: int = 1
    page_size: int = 20
