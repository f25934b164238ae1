"""Scenarios 6 and 7: garbage and duplicates mixed into real traffic."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pika
import pytest

from services.common.registry import PROCESSES, Kind
from services.common.topology import EVENT_EXCHANGES, EVENT_SUBSCRIPTIONS
from tests.reliability.harness import FaultRun
from tests.support.broker import TestBroker
from tests.support.factories import order_placed_event
from tests.support.polling import wait_until

pytestmark = pytest.mark.reliability

WORKERS = tuple(p.name for p in PROCESSES if p.kind is Kind.WORKER)

# What a confused or hostile publisher sends: (label, content type, body).
POISONS: tuple[tuple[str, str, bytes], ...] = (
    ("not json", "application/json", b"\x00\xffnot json at all{"),
    ("json, not an event", "application/json", b'{"hello": "world"}'),
    ("wrong content type", "text/plain", order_placed_event().to_json_bytes()),
    ("an event of another type", "application/json", b""),  # filled per routing key below
    ("a valid envelope, payload missing", "application/json", b""),
)


def poison_body(label: str, body: bytes, routing_key: str) -> bytes:
    envelope = json.loads(order_placed_event().to_json_bytes())
    if label == "an event of another type":
        envelope["type"] = "order.unheard_of" if routing_key != "order.unheard_of" else "x.y"
        return json.dumps(envelope).encode()
    if label == "a valid envelope, payload missing":
        envelope["type"] = routing_key
        envelope["data"] = {}
        return json.dumps(envelope).encode()
    return body


def publish_poisons(broker: TestBroker) -> dict[str, set[str]]:
    """One of each poison on every routing key of every event exchange. Returns, per DLQ, the
    message ids that must end up there (one per subscribed queue the key is bound to)."""
    expected: dict[str, set[str]] = {}
    for exchange, keys in EVENT_EXCHANGES.items():
        for key in keys:
            for label, content_type, body in POISONS:
                message_id = f"poison-{uuid.uuid4()}"
                broker.publish_raw(
                    poison_body(label, body, key),
                    exchange=exchange,
                    routing_key=key,
                    properties=pika.BasicProperties(
                        content_type=content_type, delivery_mode=2, message_id=message_id
                    ),
                )
                for subscriptions in EVENT_SUBSCRIPTIONS.values():
                    for queue, sub_exchange, binding_keys in subscriptions:
                        if sub_exchange == exchange and key in binding_keys:
                            expected.setdefault(f"{queue}.dlq", set()).add(message_id)
    return expected


def test_poison_on_every_exchange_mixed_into_real_traffic(
    fault_run: Callable[..., FaultRun],
) -> None:
    with fault_run(
        "6. poison and malformed messages", fault="5 kinds x every routing key, twice"
    ) as run:
        run.start_traffic()
        run.at(0.3)
        expected = publish_poisons(run.broker)
        run.at(0.6)
        for queue, ids in publish_poisons(run.broker).items():
            expected.setdefault(queue, set()).update(ids)
        run.cleared()
        run.finish(expected_dlq={queue: len(ids) for queue, ids in expected.items()})
        for queue, ids in expected.items():
            found = {props.message_id for props, _ in run.broker.drain(queue)}
            assert found == ids, f"{queue}: not exactly the poison messages"


@dataclass
class Tap:
    seen: Counter[str] = field(default_factory=Counter)  # the real events, by routing key
    idle: threading.Event = field(default_factory=threading.Event)  # its queue is empty

    def caught_up(self) -> None:
        """Wait until the tap has copied every event that reached it: its queue held nothing for
        a moment. Once the outboxes are empty no new real event comes, so after this no copy
        can arrive in a working queue."""
        wait_until(self.idle.is_set, timeout=300, message="the duplicating tap caught up")


@contextmanager
def duplicating_tap(broker: TestBroker, copies: int) -> Iterator[Tap]:
    """Republish every real event `copies` more times, at once, as a broken publisher would.

    A private exclusive queue, bound with `#` to every event exchange, sees each event; the tap
    publishes the same bytes and properties again to the same exchange and routing key."""
    stop = threading.Event()
    ready = threading.Event()
    state = Tap()
    errors: list[BaseException] = []

    def tap() -> None:
        try:
            conn = pika.BlockingConnection(broker.params())
            ch = conn.channel()
            ch.confirm_delivery()
            queue = ch.queue_declare("", exclusive=True).method.queue
            for exchange in EVENT_EXCHANGES:
                ch.queue_bind(queue, exchange, routing_key="#")
            ready.set()
            for method, props, body in ch.consume(queue, inactivity_timeout=0.1):
                if stop.is_set():
                    break
                if method is None:
                    state.idle.set()
                    continue
                state.idle.clear()
                if not (props.headers or {}).get("x-test-copy"):
                    state.seen[method.routing_key] += 1
                    headers = {**(props.headers or {}), "x-test-copy": 1}
                    copy = pika.BasicProperties(
                        content_type=props.content_type,
                        delivery_mode=2,
                        message_id=props.message_id,
                        type=props.type,
                        headers=headers,
                    )
                    for _ in range(copies):
                        ch.basic_publish(method.exchange, method.routing_key, body, copy)
                ch.basic_ack(method.delivery_tag)
            conn.close()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
            ready.set()
            state.idle.set()

    thread = threading.Thread(target=tap, name="duplicating-tap", daemon=True)
    thread.start()
    ready.wait(30)
    try:
        yield state
    finally:
        stop.set()
        thread.join(30)
        assert not errors, errors


def test_duplicate_publishes_to_two_workers_per_service(fault_run: Callable[..., FaultRun]) -> None:
    """Every real event arrives three times, at the same moment, at two worker instances of
    each service: each effect must still happen once."""
    with fault_run("7. duplicate publishes, two workers each", fault="every event x3") as run:
        for name in WORKERS:
            run.system.start(name, instance=f"{name}-2")
            run.system.wait_ready(f"{name}-2")
        with duplicating_tap(run.broker, copies=2) as tap:
            run.start_traffic()
            run.at(1.0)
            run.cleared()
            run.finish(before_settle=tap.caught_up)
        assert tap.seen["order.placed"] == run.config.orders
