"""The states of an order (services/orders/lifecycle.py says what moves it between them).

Its own module because the tables (models.py) type their status columns with it, and the
lifecycle's statements use the tables.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
