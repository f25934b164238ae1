"""The inventory worker as a real process, fed through the real `orders` exchange."""

from __future__ import annotations

import json
import uuid

import pika
import pytest

from services.common.topology import (
    EMAIL_EVENTS_QUEUE,
    INVENTORY_EVENTS_QUEUE,
    ORDER_PLACED,
    ORDERS_EXCHANGE,
    Service,
    task_queue,
)
from services.inventory import worker as worker_module
from services.inventory.models import OutcomeStatus
from tests.integration.inventory.conftest import RunningInventory
from tests.support.broker import TestBroker, x_death_reason
from tests.support.factories import order_placed_event
from tests.support.inventory import (
    bad_messages,
    handled,
    inbox_count,
    outcome,
    reservations_of,
    reserved,
)
from tests.support.polling import wait_until

INVENTORY_DLQ = f"{INVENTORY_EVENTS_QUEUE}.dlq"
TASKS_QUEUE = task_queue(Service.INVENTORY)


def test_order_placed_reserves_stock_once_even_when_published_twice(
    broker: TestBroker, inventory: RunningInventory
) -> None:
    db, worker = inventory.db, inventory.worker
    event = order_placed_event(lines=[("MUG-BLUE", 2, "8.50"), ("TEE-M", 1, "19.90")])
    before = reserved(db)

    with broker.tap(TASKS_QUEUE, TASKS_QUEUE) as private_queue:
        broker.publish_event(event)
        broker.publish_event(event)

        worker.wait_for_log(handled(event, "reserved MUG-BLUE x2, TEE-M x1"))
        worker.wait_for_log(handled(event, "duplicate event, nothing changed"))
        broker.wait_empty(INVENTORY_EVENTS_QUEUE)  # both copies acked
        # one hop: each copy was handled straight off the event queue, no task was published
        assert private_queue.count() == 0
    after = reserved(db)
    assert (after["MUG-BLUE"] - before["MUG-BLUE"], after["TEE-M"] - before["TEE-M"]) == (2, 1)
    assert reservations_of(db, event.data.order_id) == {"MUG-BLUE": 2, "TEE-M": 1}
    assert inbox_count(db, event.id) == 1
    assert broker.ready(INVENTORY_DLQ) == 0


def test_insufficient_stock_reserves_nothing_and_records_the_outcome(
    broker: TestBroker, inventory: RunningInventory
) -> None:
    db, worker = inventory.db, inventory.worker
    event = order_placed_event(lines=[("MUG-BLUE", 1, "8.50"), ("POSTER-A2", 1, "12.00")])
    before = reserved(db)

    broker.publish_event(event)

    worker.wait_for_log(handled(event, r"rejected, out of stock: POSTER-A2 \(requested 1"))
    decided = outcome(db, event.data.order_id)
    assert decided is not None
    assert decided.status == OutcomeStatus.REJECTED
    assert reservations_of(db, event.data.order_id) == {}
    assert reserved(db) == before
    assert broker.ready(f"{TASKS_QUEUE}.dlq") == 0  # an answer, not a failure


@pytest.mark.parametrize("kind", list(bad_messages()))
def test_a_bad_message_dead_letters_and_the_next_event_is_processed(
    kind: str, broker: TestBroker, inventory: RunningInventory
) -> None:
    body, props = bad_messages()[kind]
    good = order_placed_event(lines=[("TEE-M", 1, "19.90")])

    broker.publish_raw(body, exchange=ORDERS_EXCHANGE, routing_key=ORDER_PLACED, properties=props)
    broker.publish_event(good)

    inventory.worker.wait_for_log(handled(good, "reserved TEE-M x1"))
    wait_until(lambda: broker.ready(INVENTORY_DLQ) == 1, timeout=30, message="one dead letter")
    [(dead_props, dead_body)] = broker.drain(INVENTORY_DLQ)
    assert dead_body == body
    assert x_death_reason(dead_props) == "rejected"
    assert dead_props.headers["x-death"][0]["queue"] == INVENTORY_EVENTS_QUEUE
    assert f"rejected message {props.message_id} from {INVENTORY_EVENTS_QUEUE}" in (
        inventory.worker.log()
    )
    assert inventory.worker.alive()
    # the copy the email queue got is untouched by inventory's verdict
    assert broker.ready(EMAIL_EVENTS_QUEUE) == 2


def test_a_task_whose_envelope_no_longer_validates_dead_letters_at_once(
    broker: TestBroker, inventory: RunningInventory
) -> None:
    """A permanent failure is not retried: straight into inventory.tasks.dlq."""
    bad = order_placed_event().to_dict()
    bad["data"]["lines"] = []
    task_id = str(uuid.uuid4())
    headers, properties, body, _ = worker_module.app.amqp.as_task_v2(
        task_id, worker_module.worker.routes[ORDER_PLACED], args=(bad,)
    )
    broker.publish_raw(
        json.dumps(body).encode(),
        exchange=TASKS_QUEUE,
        routing_key=TASKS_QUEUE,
        properties=pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers=headers,
            correlation_id=properties["correlation_id"],
        ),
    )
    inventory.worker.wait_for_log("got an invalid envelope, dead-lettering: data.lines")
    wait_until(lambda: broker.ready(f"{TASKS_QUEUE}.dlq") == 1, timeout=30, message="dead letter")
    [(props, _body)] = broker.drain(f"{TASKS_QUEUE}.dlq")
    assert x_death_reason(props) == "rejected"
    assert props.headers["id"] == task_id
    assert props.headers["retries"] == 0
    assert f"{task_id}] retry" not in inventory.worker.log()
