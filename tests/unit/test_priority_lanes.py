"""Priority lanes without a broker: which queues have them and how, the levels, the API's field,
the event's field, and what the relay's publisher and the vhost tool make of them
(docs/priorities.md)."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from broker.provision.migrate import rebuilt
from broker.provision.queues import lanes_differ
from services.common import topology as t
from services.common.events import Envelope, OrderPlaced, parse_event
from services.common.outbox import OutboundMessage, PikaPublisher
from services.common.outbox.priority import current, inherited
from services.orders.api.schemas import PlaceOrderRequest
from services.orders.commands import PlaceOrder, RequestedLine
from tests.support.factories import order_placed

CLASSIC = t.build("v", t.QueueType.CLASSIC)
QUORUM = t.build("v", t.QueueType.QUORUM)
EVENT_QUEUES = {q for subs in t.EVENT_SUBSCRIPTIONS.values() for q, _, _ in subs}


def test_every_event_queue_and_only_those_have_lanes_on_classic() -> None:
    assert {q.name for q in CLASSIC.queues if q.prioritized} == EVENT_QUEUES
    for q in CLASSIC.queues:
        lanes = CLASSIC.arguments_of(q.name).get(t.MAX_PRIORITY_ARGUMENT)
        assert lanes == (t.CLASSIC_MAX_PRIORITY if q.name in EVENT_QUEUES else None), q.name


def test_quorum_queues_are_declared_with_no_priority_argument() -> None:
    for q in QUORUM.queues:
        assert QUORUM.arguments_of(q.name) == {"x-queue-type": "quorum"}, q.name


def test_express_is_the_high_lane_on_both_types_and_standard_the_normal_one() -> None:
    # quorum (RabbitMQ 4.0+): above 4 is high; classic: capped to x-max-priority
    assert t.EXPRESS_PRIORITY > t.QUORUM_NORMAL_MAX
    assert t.STANDARD_PRIORITY <= t.QUORUM_NORMAL_MAX
    assert min(t.EXPRESS_PRIORITY, t.CLASSIC_MAX_PRIORITY) > t.STANDARD_PRIORITY
    assert t.order_priority(express=True) == t.EXPRESS_PRIORITY
    assert t.order_priority(express=False) == t.STANDARD_PRIORITY


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_the_api_takes_express_as_a_json_boolean_only(value: object) -> None:
    body = {"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": 1}]}
    assert PlaceOrderRequest.model_validate(body).express is False
    assert PlaceOrderRequest.model_validate_json(json.dumps({**body, "express": True})).express
    with pytest.raises(ValidationError) as caught:
        PlaceOrderRequest.model_validate_json(json.dumps({**body, "express": value}))
    assert [e["loc"] for e in caught.value.errors()] == [("express",)]


def test_a_standard_order_keeps_the_idempotency_fingerprint_it_had_before_express() -> None:
    lines = (RequestedLine("MUG-BLUE", 1),)
    standard = PlaceOrder("ada@example.com", lines, "EUR")
    # what request_hash hashed before the field existed
    canonical = '{"currency":"EUR","customer_email":"ada@example.com","lines":[["MUG-BLUE",1]]}'
    assert standard.request_hash() == hashlib.sha256(canonical.encode()).hexdigest()
    express = PlaceOrder("ada@example.com", lines, "EUR", express=True)
    assert express.request_hash() != standard.request_hash()


def test_a_standard_order_placed_is_what_it_was_before_express() -> None:
    """An old consumer (extra="forbid") would dead-letter an unknown field: it appears only
    when it is true."""
    assert "express" not in Envelope.wrap(order_placed()).to_dict()["data"]
    express = OrderPlaced.model_validate({**order_placed().model_dump(), "express": True})
    assert Envelope.wrap(express).to_dict()["data"]["express"] is True
    assert parse_event(Envelope.wrap(express).to_json_bytes()).data.express is True


def test_order_placed_without_express_still_parses_as_standard() -> None:
    data = order_placed().model_dump(mode="json")
    assert "express" not in data
    envelope = Envelope.wrap(order_placed()).to_dict()
    envelope["data"] = data
    parsed = parse_event(json.dumps(envelope).encode())
    assert isinstance(parsed.data, OrderPlaced)
    assert parsed.data.express is False
    assert OrderPlaced.schema_version == 1  # an optional field is not a new version
    with pytest.raises(ValidationError):
        OrderPlaced.model_validate({**data, "express": "yes"})


def test_the_publisher_sends_the_rows_priority_as_the_amqp_property() -> None:
    publisher = PikaPublisher(["amqp://guest:guest@127.0.0.1:1/v"], t.ORDERS_EXCHANGE)
    express = OutboundMessage(1, "e1", t.ORDER_PLACED, "c", b"{}", priority=t.EXPRESS_PRIORITY)
    older = OutboundMessage(2, "e2", t.ORDER_PLACED, "c", b"{}")
    assert publisher._properties(express, {}).priority == t.EXPRESS_PRIORITY
    assert publisher._properties(older, {}).priority is None


def test_what_a_handler_publishes_inherits_the_priority_it_runs_under() -> None:
    assert current() is None
    with inherited(t.EXPRESS_PRIORITY):
        assert current() == t.EXPRESS_PRIORITY
        with inherited(None):
            assert current() is None
        assert current() == t.EXPRESS_PRIORITY
    assert current() is None


def test_the_vhost_tool_rebuilds_an_event_queue_without_lanes_and_nothing_else() -> None:
    old = {"name": t.INVENTORY_EVENTS_QUEUE, "type": "classic", "arguments": {}}
    new = {**old, "arguments": {t.MAX_PRIORITY_ARGUMENT: t.CLASSIC_MAX_PRIORITY}}
    assert lanes_differ(CLASSIC, t.INVENTORY_EVENTS_QUEUE, old)
    assert rebuilt(CLASSIC, t.INVENTORY_EVENTS_QUEUE, old)
    assert not rebuilt(CLASSIC, t.INVENTORY_EVENTS_QUEUE, new)
    dlq = {"name": "inventory.orders.dlq", "type": "classic", "arguments": {}}
    assert not rebuilt(CLASSIC, "inventory.orders.dlq", dlq)
    quorum = {"name": t.INVENTORY_EVENTS_QUEUE, "type": "quorum", "arguments": {}}
    assert not rebuilt(QUORUM, t.INVENTORY_EVENTS_QUEUE, quorum)
