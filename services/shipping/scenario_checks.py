"""What the end-to-end scenario checks in the shipping database: each confirmed order was shipped
exactly once, and no rejected one (services/common/scenario_checks.py)."""

from __future__ import annotations

from services.common.scenario_checks import RowsPerOrder
from services.shipping.models import Shipment

CHECKS: tuple[RowsPerOrder, ...] = (
    RowsPerOrder("shipped", "shipment(s)", Shipment.order_id, {"CONFIRMED": 1}),
)
