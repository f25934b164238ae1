"""The checks the services contribute (services/common/scenario_checks.py): `CHECKS` of
`services/<service>/scenario_checks.py` for every service of the registry that has that module,
each read in the service's own database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec

from sqlalchemy import select

from services.common.db import Database
from services.common.registry import Service
from services.common.scenario_checks import RowsPerOrder


@dataclass
class ServiceChecks:
    service: Service
    checks: tuple[RowsPerOrder, ...]
    db: Database

    def rows(self, check: RowsPerOrder, order_ids: Iterable[str]) -> Counter[str]:
        """How many rows of `check` each of these orders has."""
        column = check.order_id
        with self.db.transaction() as session:
            return Counter(session.scalars(select(column).where(column.in_(list(order_ids)))))


def contributed() -> list[ServiceChecks]:
    """Every service's contributed checks, in the registry's order; reads the services' settings
    (a missing setting is pydantic's ValidationError), contacts no database."""
    found = []
    for service in Service:
        module = f"services.{service}.scenario_checks"
        if find_spec(module) is None:
            continue
        checks = tuple(import_module(module).CHECKS)
        if not all(isinstance(c, RowsPerOrder) for c in checks):
            raise TypeError(f"{module}.CHECKS: RowsPerOrder only")
        settings = import_module(f"services.{service}.settings").Settings()
        found.append(ServiceChecks(service, checks, Database(settings.database_url)))
    return found
