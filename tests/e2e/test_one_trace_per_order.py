"""One confirmed order is one trace, across every process and through the broker five times.

Every process of the Procfile runs for real with tracing on (`OTEL_TRACES_EXPORTER=otlp`, the
exporter docker compose uses) and exports to a receiver in the test (tests/support/otlp.py).
The order is placed with a caller's `traceparent`, and the test walks the span tree from it:

    POST /orders (orders-api, SERVER, child of the caller's span)
      transaction                                   the order and its outbox row commit
        publish orders        order.placed          orders-relay, PRODUCER
          process orders                            inventory-worker, CONSUMER: the first
                                                    attempt of inventory.reserve_stock
            transaction
              publish inventory   stock.reserved    inventory-relay
                process inventory                   orders-worker (orders.confirm_order)
                  transaction
                    publish orders   order.confirmed   orders-relay
                      process orders ... smtp send     email-worker (order confirmed mail)
                      process orders                   shipping-worker (dispatch_shipment)
                        transaction
                          publish shipping   shipment.dispatched   shipping-relay
                            process shipping           orders-worker (on the timeline)
                            process shipping ... smtp send   email-worker (order shipped mail)
          process orders                            email-worker (order received mail)
            ... smtp send

One hop per event: no Celery task in between (a task appears only for a retry).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.broker import TestBroker
from tests.support.otlp import Span, SpanStore, otlp_receiver
from tests.support.polling import wait_until
from tests.support.system import System, running_system

pytestmark = pytest.mark.e2e

# The spans the test needs before it walks the tree (more may come: SQL statements...).
EXPECTED = {
    "POST /orders": 1,
    "publish orders": 2,  # order.placed, order.confirmed
    "publish inventory": 1,  # stock.reserved
    "publish shipping": 1,  # shipment.dispatched
    "process orders": 4,  # inventory (placed), email (placed, confirmed), shipping (confirmed)
    "process inventory": 1,
    "process shipping": 2,  # orders (timeline), email (shipped)
    "smtp send": 3,
}


@pytest.fixture
def traced(broker: TestBroker, tmp_path: Path) -> Iterator[tuple[System, SpanStore]]:
    with otlp_receiver() as (endpoint, spans):
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s, not every 5 s
        }
        with running_system(tmp_path, extra_env=env) as system:
            yield system, spans


class Tree:
    def __init__(self, spans: list[Span]) -> None:
        self.spans = spans

    def child(self, parent: Span, name: str, service: str, **attributes: Any) -> Span:
        """The one direct child of `parent` with this name, process and attributes."""
        found = [
            s
            for s in self.spans
            if s.parent_id == parent.span_id
            and s.name == name
            and s.service == service
            and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]
        assert len(found) == 1, f"{name} ({service}, {attributes}) under {parent}: {found}"
        return found[0]

    def descendant(self, ancestor: Span, name: str, service: str) -> Span:
        """The one span called `name` in `service` below `ancestor`, at any depth."""
        below = self._below(ancestor)
        found = [s for s in below if s.name == name and s.service == service]
        assert len(found) == 1, f"{name} ({service}) below {ancestor}: {found}"
        return found[0]

    def _below(self, ancestor: Span) -> list[Span]:
        out, frontier = [], [ancestor]
        while frontier:
            parent = frontier.pop()
            children = [s for s in self.spans if s.parent_id == parent.span_id]
            out += children
            frontier += children
        return out


def _place(system: System, traceparent: str) -> dict[str, Any]:
    body = {"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": 1}]}
    headers = {"traceparent": traceparent, "X-Correlation-ID": "trace-e2e-order"}
    resp = httpx.post(f"{system.api_url}/orders", json=body, headers=headers, timeout=10)
    assert resp.status_code == 202, resp.text
    order_id = resp.json()["id"]

    def confirmed() -> dict[str, Any] | None:
        order: dict[str, Any] = httpx.get(f"{system.api_url}/orders/{order_id}").json()
        steps = [s["what"] for s in order["timeline"]]
        published = "order.confirmed published" in steps
        shipped = any(what.startswith("shipment dispatched") for what in steps)
        return order if order["status"] == "CONFIRMED" and published and shipped else None

    return wait_until(confirmed, timeout=60, message="order confirmed, published and shipped")


def _event_id(order: dict[str, Any], what: str) -> str:
    return str(next(s["event_id"] for s in order["timeline"] if s["what"].startswith(what)))


def _hop(
    tree: Tree, transaction: Span, exchange: str, event_id: str, consumer: str, handler: str
) -> Span:
    """publish (relay) -> process (the consumer's first attempt of `handler`), checked step by
    step; returns the process span."""
    relay = f"{exchange}-relay"  # each service's relay publishes to its own exchange
    publish = tree.child(
        transaction, f"publish {exchange}", relay, **{"messaging.message.id": event_id}
    )
    assert publish.kind == "PRODUCER"
    assert publish.attributes["messaging.system"] == "rabbitmq"
    assert publish.attributes["messaging.destination.name"] == exchange
    assert publish.attributes["messaging.message.conversation_id"] == "trace-e2e-order"
    process = tree.child(publish, f"process {exchange}", consumer, **{"shopflow.handler": handler})
    assert process.kind == "CONSUMER"
    assert process.attributes["messaging.message.id"] == event_id
    assert process.attributes["messaging.destination.name"] == exchange
    assert process.attributes["messaging.message.conversation_id"] == "trace-e2e-order"
    assert process.attributes["shopflow.message.redelivered"] is False
    # one hop: the handler ran inside the CONSUMER span, no Celery task in between
    assert not [s for s in tree._below(process) if s.name.startswith(("apply_async/", "run/"))]
    return process


def test_a_confirmed_order_is_one_trace_across_every_hop(traced: tuple[System, SpanStore]) -> None:
    system, store = traced
    trace_id, caller = secrets.token_hex(16), secrets.token_hex(8)
    order = _place(system, f"00-{trace_id}-{caller}-01")
    placed, reserved = _event_id(order, "order.placed"), _event_id(order, "stock reserved")
    confirmed = _event_id(order, "order.confirmed")
    dispatched = _event_id(order, "shipment dispatched")

    def complete() -> list[Span] | None:
        # Each process exports what has ended every 0.1 s, in no order across processes.
        spans = store.of_trace(trace_id)
        names = Counter(s.name for s in spans)
        return spans if all(names[n] >= count for n, count in EXPECTED.items()) else None

    tree = Tree(wait_until(complete, timeout=60, message="both mails' spans exported"))
    [api] = [s for s in tree.spans if s.parent_id == caller]
    assert (api.service, api.kind, api.name) == ("orders-api", "SERVER", "POST /orders")
    commit = tree.descendant(api, "transaction", "orders-api")
    statements = [s.name.split()[0] for s in tree.spans if s.parent_id == commit.span_id]
    assert statements.count("INSERT") >= 3, statements  # SQLAlchemy's: order, lines, outbox...

    reserve = _hop(tree, commit, "orders", placed, "inventory-worker", "inventory.reserve_stock")
    reservation = tree.child(reserve, "transaction", "inventory-worker")
    decide = _hop(tree, reservation, "inventory", reserved, "orders-worker", "orders.confirm_order")
    decision = tree.child(decide, "transaction", "orders-worker")
    mail = "email.send_order_mails"
    confirmed_mail = _hop(tree, decision, "orders", confirmed, "email-worker", mail)
    tree.descendant(confirmed_mail, "smtp send", "email-worker")
    dispatch = "shipping.dispatch_shipment"
    ship = _hop(tree, decision, "orders", confirmed, "shipping-worker", dispatch)
    shipment = tree.child(ship, "transaction", "shipping-worker")
    _hop(tree, shipment, "shipping", dispatched, "orders-worker", "orders.note_on_timeline")
    shipped_mail = _hop(tree, shipment, "shipping", dispatched, "email-worker", mail)
    tree.descendant(shipped_mail, "smtp send", "email-worker")

    publish_placed = tree.child(commit, "publish orders", "orders-relay")
    received_mail = tree.child(
        publish_placed, "process orders", "email-worker", **{"shopflow.handler": mail}
    )
    tree.descendant(received_mail, "smtp send", "email-worker")
    assert not [s for s in tree.spans if s.error], "no span of a confirmed order failed"
    processes = {s.service for s in tree.spans}
    assert processes == {
        "orders-api",
        "orders-relay",
        "inventory-worker",
        "inventory-relay",
        "orders-worker",
        "email-worker",
        "shipping-worker",
        "shipping-relay",
    }
