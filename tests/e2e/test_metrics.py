"""Every process's /metrics, read the way Prometheus reads it, moves by exactly what happened.

The whole system runs from the Procfile; the test places orders (two confirmed and shipped, one
rejected, one replayed with its Idempotency-Key, one refused as invalid) and publishes one poison
event on the `orders` exchange, waits until everything settled, and compares each process's
counters with what they were before. Then every metric docs/observability.md lists must be in
some process's answer.

A counter a process has not served yet stood at 0 before the test (as Prometheus reads it), but
every value the test expects afterwards, a 0 included, must be in the process's answer: a
series that is missing was never set up, which is no 0. The gauges are read the same way, and the
requests-in-progress gauge is seen at 1 while an event stream is open: created at 0 with its
first request, it would read 0 at the end if nothing ever moved it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.sse import SseStream
from tests.support.system import METRICS_PORT_SETTINGS, System, running_system

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
Sample = tuple[str, str, frozenset[tuple[str, str]]]  # process, sample name, labels


@pytest.fixture
def system(broker: TestBroker, tmp_path: Path) -> Iterator[System]:
    broker.purge_all()  # nothing left by an earlier test may be counted here
    with running_system(tmp_path) as running:
        yield running


def scrape(system: System) -> dict[Sample, float]:
    samples: dict[Sample, float] = {}
    for process in METRICS_PORT_SETTINGS:
        text = httpx.get(system.metrics_url(process), timeout=5).text
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples[(process, s.name, frozenset(s.labels.items()))] = s.value
    return samples


def key(process: str, name: str, **labels: str) -> Sample:
    return (process, name, frozenset(labels.items()))


def served(samples: dict[Sample, float], sample: Sample) -> float:
    """The value of `sample`, which its process must serve (no default of 0)."""
    if sample not in samples:
        process, name, _ = sample
        same_name = [dict(labels) for p, n, labels in samples if (p, n) == (process, name)]
        raise AssertionError(f"{process} serves no {sample}; its {name} samples: {same_name}")
    return samples[sample]


def unmoved(
    expected: dict[Sample, float], before: dict[Sample, float], now: dict[Sample, float]
) -> list[Sample]:
    """The expected samples not served yet, or not moved by their count yet."""
    return [k for k, v in expected.items() if k not in now or now[k] - before.get(k, 0.0) < v]


def expected_moves() -> dict[Sample, float]:
    placed, confirmed, rejected = 3, 2, 1
    moves: dict[Sample, float] = {
        key("orders-api", "shopflow_orders_accepted_total"): placed,
        key("orders-api", "shopflow_orders_replayed_total"): 1,
        key("orders-api", "shopflow_orders_refused_total", reason="validation_failed"): 1,
        # received for each, confirmed or rejected for each, shipped for each confirmed one
        key("smtp-sink", "shopflow_sink_mails_total", outcome="stored"): placed * 2 + confirmed,
    }
    relayed = {
        "orders-relay": {
            "orders": {
                "order.placed": placed,
                "order.confirmed": confirmed,
                "order.rejected": rejected,
                "order.updated": confirmed,  # the shipment on the order's timeline
            }
        },
        "inventory-relay": {"inventory": {"stock.reserved": confirmed, "stock.rejected": 1}},
        "shipping-relay": {"shipping": {"shipment.dispatched": confirmed}},
    }
    for relay, exchanges in relayed.items():
        for exchange, types in exchanges.items():
            for event_type, n in types.items():
                moves[
                    key(
                        relay,
                        "shopflow_relay_published_total",
                        exchange=exchange,
                        event_type=event_type,
                    )
                ] = n
    consumed = {
        ("inventory-worker", "inventory.orders"): {"order.placed": placed},
        ("orders-worker", "orders.inventory"): {"stock.reserved": 2, "stock.rejected": rejected},
        ("orders-worker", "orders.shipping"): {"shipment.dispatched": confirmed},
        ("shipping-worker", "shipping.orders"): {"order.confirmed": confirmed},
        ("email-worker", "email.orders"): {
            "order.placed": placed,
            "order.confirmed": 2,
            "order.rejected": 1,
        },
        ("email-worker", "email.shipping"): {"shipment.dispatched": confirmed},
    }
    for (worker, queue), types in consumed.items():
        for event_type, n in types.items():
            for name in ("shopflow_events_consumed_total", "shopflow_events_handled_total"):
                moves[key(worker, name, queue=queue, event_type=event_type)] = n
            moves[
                key(worker, "shopflow_events_retried_total", queue=queue, event_type=event_type)
            ] = 0
            handled = dict(queue=queue, event_type=event_type, outcome="handled")
            moves[key(worker, "shopflow_handler_duration_seconds_count", **handled)] = n
    for worker, queue in (
        ("inventory-worker", "inventory.orders"),
        ("email-worker", "email.orders"),
    ):
        poison = dict(queue=queue, event_type="(invalid)")
        moves[key(worker, "shopflow_events_consumed_total", **poison)] = 1
        moves[key(worker, "shopflow_events_dead_lettered_total", **poison, reason="invalid")] = 1
    mails = (
        ("order_received", placed),
        ("order_confirmed", confirmed),
        ("order_rejected", rejected),
        ("order_shipped", confirmed),
    )
    for template, n in mails:
        moves[key("email-worker", "shopflow_mails_sent_total", template=template)] = n
    return moves


def _place(system: System, sku: str, email: str, key_: str | None = None) -> httpx.Response:
    body = {"customer_email": email, "lines": [{"sku": sku, "quantity": 1}]}
    headers = {"Idempotency-Key": key_} if key_ else {}
    return httpx.post(f"{system.api_url}/orders", json=body, headers=headers, timeout=10)


def _traffic(system: System, broker: TestBroker) -> list[str]:
    ids = [
        _place(system, "MUG-BLUE", f"m{n}@example.com", f"metrics-{n}").json()["id"] for n in (1, 2)
    ]
    ids.append(_place(system, "POSTER-A2", "r@example.com").json()["id"])
    assert _place(system, "MUG-BLUE", "m1@example.com", "metrics-1").status_code == 202  # replay
    invalid = {"customer_email": "nope", "lines": [{"sku": "MUG-BLUE", "quantity": 0}]}
    assert httpx.post(f"{system.api_url}/orders", json=invalid).status_code == 422
    poison = pika.BasicProperties(content_type="application/json", message_id="poison-1")
    broker.publish_raw(
        b"{not json", exchange="orders", routing_key="order.placed", properties=poison
    )
    return ids


def test_the_counters_move_by_exactly_what_happened(system: System, broker: TestBroker) -> None:
    before = scrape(system)
    ids = _traffic(system, broker)
    expected = expected_moves()

    last: list[dict[Sample, float]] = [{}]

    def moved() -> dict[Sample, float] | None:
        statuses = Counter(httpx.get(f"{system.api_url}/orders/{i}").json()["status"] for i in ids)
        if statuses != Counter({"CONFIRMED": 2, "REJECTED": 1}):
            return None
        now = last[0] = scrape(system)
        return None if unmoved(expected, before, now) else now

    after = wait_until(
        moved,
        timeout=90,
        message=lambda: (
            "every expected counter served and moved; not yet: "
            f"{unmoved(expected, before, last[0]) if last[0] else 'the orders settled'}"
        ),
    )
    deltas = {k: served(after, k) - before.get(k, 0.0) for k in expected}
    assert {k: v for k, v in deltas.items() if v != expected[k]} == {}
    assert broker.ready("inventory.orders.dlq") == 1
    assert broker.ready("email.orders.dlq") == 1
    for relay, exchange in (("orders-relay", "orders"), ("inventory-relay", "inventory")):
        assert served(after, key(relay, "shopflow_outbox_backlog", exchange=exchange)) == 0
        oldest = key(relay, "shopflow_outbox_oldest_pending_age_seconds", exchange=exchange)
        assert served(after, oldest) == 0
        latency = key(relay, "shopflow_relay_confirm_latency_seconds_count", exchange=exchange)
        assert served(after, latency) >= 1
    in_progress = key(
        "orders-api", "shopflow_http_requests_in_progress", method="POST", route="/orders"
    )
    assert served(after, in_progress) == 0
    _every_documented_metric_is_served(after)
    _an_open_stream_is_in_progress(system, ids[0])


STREAMS_IN_PROGRESS = key(
    "orders-api",
    "shopflow_http_requests_in_progress",
    method="GET",
    route="/orders/{order_id}/events",
)


def _an_open_stream_is_in_progress(system: System, order_id: str) -> None:
    """The gauge counts an open event stream until it closes (counted out once the API has
    noticed the client went, so the 0 is polled for)."""

    def streams() -> float:
        return served(scrape(system), STREAMS_IN_PROGRESS)

    stream = SseStream(f"{system.api_url}/orders/{order_id}/events")
    try:
        assert stream.status_code == 200
        stream.steps(1)  # the stream has answered: it counts
        assert streams() == 1
    finally:
        stream.close()
    wait_until(lambda: streams() == 0, timeout=60, message="the closed stream to be counted out")


def _every_documented_metric_is_served(samples: dict[Sample, float]) -> None:
    documented = set(re.findall(r"`(shopflow_[a-z_]+)`", DOC.read_text()))
    served = {name for _, name, _ in samples}
    served |= {re.sub(r"_(total|count|sum|bucket)$", "", name) for name in served}
    assert documented, "docs/observability.md lists no metric"
    assert documented - served == set()
