"""The `history` stage's history, built small on a real system, on SQLite and on PostgreSQL: the
copies are real orders to the services (the API reads one back whole, a new order settles on
top of them) and break no key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bench import procs
from bench.history_build import build
from bench.history_fill import table_counts
from bench.http_api import ORDER_BODY
from bench.pg_databases import service_databases
from bench.settlement import Settlement
from services.common.registry import Service
from tests.support.broker import TestBroker
from tests.support.system import DEFAULT_PROCESSES, System

COPIES = 5


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, broker: TestBroker, tmp_path: Path) -> Iterator[System]:
    with ExitStack() as stack:
        env = {}
        if request.param == "postgresql":
            env = stack.enter_context(service_databases("history_test")).env
        yield stack.enter_context(procs.system(tmp_path, env))


def _counts(sys_: System, service: str) -> dict[str, int]:
    engine = create_engine(sys_.db_url(service))
    try:
        return table_counts(engine)
    finally:
        engine.dispose()


def _by_age(sys_: System) -> list[str]:
    """The orders' ids, the oldest first."""
    engine = create_engine(sys_.db_url("orders"))
    try:
        with engine.connect() as conn:
            return list(conn.scalars(text("SELECT id FROM orders ORDER BY created_at")))
    finally:
        engine.dispose()


def _order(sys_: System, order_id: str) -> dict[str, Any]:
    response = httpx.get(f"{sys_.api_url}/orders/{order_id}", timeout=10)
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def test_the_copies_are_orders_the_system_reads_and_builds_on(system: System) -> None:
    built = build(system, COPIES, progress=lambda _: None)
    assert not system.procs  # stopped, as the stage expects
    counts = {svc.value: _counts(system, svc.value) for svc in Service}
    for name, added in built.rows.items():
        svc, table = name.split(".")
        template_rows, remainder = divmod(added, COPIES)
        assert (template_rows, remainder) >= (1, 0), name
        assert remainder == 0, name
        assert counts[svc][table] == template_rows * (COPIES + 1), name  # the template's and theirs
    assert built.rows["orders.orders"] == COPIES
    assert built.rows["email.sent_emails"] == 3 * COPIES  # every mail of every copy

    oldest, template = _by_age(system)[0], _by_age(system)[-1]
    procs.start(system, *DEFAULT_PROCESSES)
    copy, original = _order(system, oldest), _order(system, template)
    assert copy["status"] == original["status"] == "CONFIRMED"
    assert [s["what"][:12] for s in copy["timeline"]] == [
        s["what"][:12] for s in original["timeline"]
    ]
    shipped = [s["what"] for s in copy["timeline"] if s["what"].startswith("shipment")]
    assert len(shipped) == 1
    assert shipped[0].endswith("00000001")  # its own tracking number: copy 1
    age = datetime.now(UTC) - datetime.fromisoformat(copy["created_at"])
    assert built.span * 0.99 < age < built.span * 1.01  # the oldest copy

    with Settlement.of(system) as settlement:
        response = httpx.post(
            f"{system.api_url}/orders",
            content=ORDER_BODY,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        assert settlement.wait(1)  # counted apart from the history
