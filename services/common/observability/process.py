"""Observability for one process, set up once by its entrypoint before it does any work.

    observe_process(...)  a process that sets up its own logging: the API, a relay, the SMTP sink
    observe_celery(...)   a Celery worker or beat, whose logging Celery sets up (workers.py)

Each does three things: logs in the chosen format (`LOG_FORMAT`), traces if the `OTEL_*`
variables ask for it, and serves `/metrics` on the process kind's port. The database engine is
traced where it is built, in the service's bootstrap (`trace_database`).
"""

from __future__ import annotations

from services.common.db import Database
from services.common.observability import tracing
from services.common.observability.exposition import serve_metrics
from services.common.observability.logs import configure_logging
from services.common.settings import LogSettings, MetricsSettings


def observe_process(
    process: str, service: str, log: LogSettings, metrics: MetricsSettings, metrics_port: int
) -> int:
    """Logging, tracing and `/metrics` for a process; returns the metrics port it bound."""
    configure_logging(log, service, process)
    tracing.setup_tracing(process, service)
    return serve_metrics(metrics.host, metrics_port, process)


def trace_database(db: Database) -> None:
    """Trace `db`'s statements and transactions, inside traces only (the relay's polling and
    other background reads start none), if tracing is on in this process."""
    if not tracing.enabled():
        return
    # The maintained SQLAlchemy instrumentation's per-engine tracer: the very object that
    # `SQLAlchemyInstrumentor().instrument(engine=...)` attaches. Not that call itself: it
    # refuses SQLAlchemy 2.1 (its metadata says < 2.1, though the engine events it listens to
    # are unchanged; tests/e2e/test_one_trace_per_order.py checks the statement spans), and it
    # also patches the asyncio engine, which needs greenlet, which nothing here uses.
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    statements = tracing.child_tracer("opentelemetry.instrumentation.sqlalchemy")
    unused = NoOpMeter("unused").create_up_down_counter("unused")  # its pool-usage metric
    EngineTracer(statements, db.engine, unused)  # type: ignore[no-untyped-call]
    db.trace_transactions(tracing.child_tracer("shopflow.db"))
