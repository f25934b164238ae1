"""The outbox backlog as Prometheus gauges, read from the database when Prometheus scrapes.

Reading at scrape time means the numbers are never stale and cost nothing between scrapes: one
indexed query (`ix_<outbox>_pending`) per scrape. A database that does not answer leaves the two
gauges out of that scrape (the relay's own log says why) rather than failing the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from services.common.observability.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from services.common.outbox.store import OutboxStore

log = logging.getLogger(__name__)


class OutboxBacklog(Collector):
    def __init__(self, store: OutboxStore, exchange: str) -> None:
        self.store = store
        self.exchange = exchange

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The metrics' names without a query (prometheus_client asks when registering)."""
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            pending, oldest = self.store.backlog()
        except SQLAlchemyError as exc:
            log.debug("outbox backlog not read for this scrape: %s", exc)
            return
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        backlog, oldest_age = self._families()
        backlog.add_metric([self.exchange], pending)
        oldest_age.add_metric([self.exchange], max(0.0, age))
        yield backlog
        yield oldest_age

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(OUTBOX_BACKLOG, "Outbox rows not yet published", labels=["exchange"]),
            GaugeMetricFamily(
                OUTBOX_OLDEST_AGE,
                "Age of the oldest unpublished outbox row (0 when none waits)",
                labels=["exchange"],
            ),
        )
