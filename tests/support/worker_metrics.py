"""A worker's counters as its /metrics tells them, read the way Prometheus reads them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.common.topology import Service
from tests.support.system import System


def handled(system: System, service: Service, queue: str, event_type: str) -> int:
    """How many `event_type` events from `queue` `service`'s worker has handled (duplicates
    included: `shopflow_events_handled_total`), 0 before the first."""
    text = httpx.get(system.metrics_url(f"{service}-worker"), timeout=5).text
    wanted = {"queue": queue, "event_type": event_type}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "shopflow_events_handled_total" and sample.labels == wanted:
                return int(sample.value)
    return 0
