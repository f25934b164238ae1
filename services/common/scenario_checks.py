"""What a service contributes to the end-to-end scenario's checks (`python -m scenario`).

A service that keeps something per order the scenario should see declares it in its own folder,
`services/<service>/scenario_checks.py`, as `CHECKS: tuple[RowsPerOrder, ...]`; the scenario
finds that module for every service of the registry and reads each check in the service's own
database (its settings' `database_url`). So the scenario names no service that contributes one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import InstrumentedAttribute


@dataclass(frozen=True)
class RowsPerOrder:
    """The rows an order has in one table of the service's database, against the rows its final
    status wants (a status `wanted` does not name wants none)."""

    name: str  # the scenario's check is "<name>: <the order's label>"
    unit: str  # what a row is, as the check's expected and actual counts say it
    order_id: InstrumentedAttribute[str]  # the column holding the order's id, one row each
    wanted: Mapping[str, int]  # the order's final status -> rows

    def wanted_for(self, status: str) -> int:
        return self.wanted.get(status, 0)
