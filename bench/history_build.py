"""A system's databases given N orders of history, before the `history` stage measures it.

One order is placed through the API and followed until every process is done with it (its
status, its mails, every service's rows, every outbox row published, no table changing any
more); then the processes stop, and its rows are copied N times (`history_fill.py`), all inside the
retention window (`history_span`: nothing is pruned while the stage runs), and the databases are
settled as a running one would be (`history_fill.settle`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import Engine, create_engine, text

from bench import history_fill as fill
from bench.http_api import ORDER_BODY
from bench.procs import start, stop
from bench.settlement import Settlement
from services.common.registry import Service
from services.common.settings import RetentionSettings
from tests.support.polling import wait_until
from tests.support.system import DEFAULT_PROCESSES, System

SPAN_SHARE = 0.9  # of the shortest retention: the oldest copy stays that far inside it
KEPT_FOR_EVER = timedelta(days=30)  # the span when no table is ever pruned


@dataclass
class Built:
    copies: int
    span: timedelta
    rows: dict[str, int] = field(default_factory=dict)  # "service.table" -> rows added
    seconds: float = 0.0  # to copy them and settle the databases
    megabytes: dict[str, float] = field(default_factory=dict)  # service -> its database's size


def history_span(retention: RetentionSettings) -> timedelta:
    """How far back the copies go: inside the shortest retention that prunes anything (outbox,
    inbox), so that every table keeps every copy while the stage runs."""
    days = [d for d in (retention.outbox_days, retention.inbox_days) if d > 0]
    return timedelta(days=min(days)) * SPAN_SHARE if days else KEPT_FOR_EVER


def build(sys_: System, copies: int, progress: Callable[[str], None]) -> Built:
    """`copies` orders of history in `sys_`'s databases; its processes stopped afterwards."""
    engines = {svc.value: create_engine(sys_.db_url(svc.value)) for svc in Service}
    try:
        start(sys_, *DEFAULT_PROCESSES)
        before = {svc: fill.table_counts(engine) for svc, engine in engines.items()}
        after = _one_order(sys_, engines)
        stop(sys_, *DEFAULT_PROCESSES)
        tables = fill.footprint(before, after)
        built = Built(copies, history_span(RetentionSettings()))
        ids = fill.identities(engines, tables)
        began = time.monotonic()
        for svc, engine in engines.items():
            plan = fill.Copies(copies, built.span, ids)
            added = fill.copy_rows(engine, tables[svc], plan, progress)
            built.rows.update({f"{svc}.{table}": n for table, n in added.items()})
            fill.settle(engine)
            built.megabytes[svc] = fill.megabytes(engine)
        built.seconds = time.monotonic() - began
        return built
    finally:
        for engine in engines.values():
            engine.dispose()


def _one_order(sys_: System, engines: dict[str, Engine]) -> dict[str, dict[str, int]]:
    """Place the template order, wait until it settled and nothing changes any more; the row
    counts then."""
    with Settlement.of(sys_) as settlement:
        response = httpx.post(
            f"{sys_.api_url}/orders",
            content=ORDER_BODY,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        response.raise_for_status()
        if not settlement.wait(1):
            raise RuntimeError("the template order of the history did not settle")
    last: list[dict[str, dict[str, int]]] = []

    def quiet() -> dict[str, dict[str, int]] | None:
        counts = {svc: fill.table_counts(engine) for svc, engine in engines.items()}
        done = bool(last) and counts == last[-1] and not _unpublished(engines)
        last.append(counts)
        return counts if done else None

    return wait_until(quiet, timeout=60, interval=1.0, message="the template order's last rows")


def _unpublished(engines: dict[str, Engine]) -> int:
    total = 0
    for engine in engines.values():
        with engine.connect() as conn:
            if engine.dialect.has_table(conn, "outbox"):
                sql = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                total += int(conn.execute(text(sql)).scalar_one())
    return total
