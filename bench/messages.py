"""What the bench puts on the broker: real `order.placed` envelopes and no-op Celery tasks."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pika

from bench.amqp import PERSISTENT, Message, persistent
from services.common.events import Envelope, OrderLine, OrderPlaced
from services.common.topology import ORDER_PLACED

JSON = "application/json"
NOOP_TASK = "bench.noop"


def order_placed(i: int) -> Envelope[OrderPlaced]:
    lines = (
        OrderLine(sku="MUG-BLUE", quantity=1, unit_price=Decimal("8.50")),
        OrderLine(sku="STICKERS", quantity=2, unit_price=Decimal("3.50")),
    )
    data = OrderPlaced(
        order_id=str(uuid.uuid4()),
        customer_email=f"bench-{i}@example.com",
        lines=lines,
        total=Decimal("15.50"),
        currency="EUR",
    )
    return Envelope.wrap(data)


def order_placed_messages(n: int) -> Iterator[Message]:
    """`n` valid `order.placed` events (~500 bytes each), with the relay's AMQP properties."""
    for i in range(n):
        env = order_placed(i)
        yield ORDER_PLACED, env.to_json_bytes(), persistent(env.id, ORDER_PLACED)


def filler_messages(n: int, size: int = 500) -> Iterator[Message]:
    """Opaque persistent messages of `size` bytes for the broker ceiling."""
    body = b"x" * size
    for i in range(n):
        yield (
            ORDER_PLACED,
            body,
            persistent(f"filler-{i}", ORDER_PLACED, "application/octet-stream"),
        )


def noop_task_messages(n: int, task: str, routing_key: str) -> Iterator[Message]:
    """Celery protocol-2 messages for `task()`, as `send_task` would publish them."""
    body = json.dumps([[], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    for _ in range(n):
        task_id = str(uuid.uuid4())
        headers = {
            "lang": "py",
            "task": task,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": "()",
            "kwargsrepr": "{}",
            "origin": "bench",
            "ignore_result": True,
        }
        props = pika.BasicProperties(
            content_type=JSON,
            content_encoding="utf-8",
            delivery_mode=PERSISTENT,
            correlation_id=task_id,
            headers=headers,
            priority=0,
        )
        yield routing_key, body.encode(), props
