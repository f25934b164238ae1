"""What the live bridge reads of a message: the order id of an event it binds, nothing else
(live/bridge.py: order_of). The bridge against the real broker: tests/integration/orders."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.events import Envelope, OrderExpired
from services.orders.live.bridge import order_of
from tests.support.factories import (
    order_confirmed_event,
    order_placed_event,
    order_rejected_event,
)


def test_each_event_it_binds_gives_its_order_id() -> None:
    expired = Envelope.wrap(OrderExpired(order_id="order-2", customer_email="b@example.org"))
    for event in (order_confirmed_event(), order_rejected_event(), expired):
        assert order_of(event.to_json_bytes()) == event.data.order_id


def as_json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def confirmed_with(**changes: Any) -> bytes:
    doc = order_confirmed_event().to_dict()
    doc.update(changes)
    return as_json(doc)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe not UTF-8",
        b"[" * 100_000,  # nested too deeply for the parser
        as_json(["order.confirmed"]),
        order_placed_event().to_json_bytes(),  # a type it does not bind
        confirmed_with(type="order.shipped"),
        confirmed_with(data=None),
        confirmed_with(data="order-1"),
        confirmed_with(data={"customer_email": "a@example.org"}),
        confirmed_with(data={"order_id": 17}),
        confirmed_with(data={"order_id": ""}),
    ],
)
def test_anything_else_gives_none(body: bytes) -> None:
    assert order_of(body) is None
