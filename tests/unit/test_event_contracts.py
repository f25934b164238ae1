"""The contract models accept what producers send and reject everything else, readably."""

from __future__ import annotations

import json
from typing import Any

import pytest

from broker.generated_docs import main as generated_docs_main
from services.common.events import InvalidEvent, OrderPlaced, parse_event
from services.common.events.schema import event_schemas
from tests.support.factories import order_placed_event


def _doc(**changes: Any) -> dict[str, Any]:
    doc = order_placed_event().to_dict()
    for dotted, value in changes.items():
        target: Any = doc
        *path, last = dotted.split("__")
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return doc


def test_round_trip() -> None:
    env = order_placed_event()
    parsed = parse_event(env.to_json_bytes())
    assert parsed == env
    assert isinstance(parsed.data, OrderPlaced)
    wire = json.loads(env.to_json_bytes())
    assert wire["data"]["total"] == "36.90"  # money is a decimal string on the wire
    assert wire["specversion"] == "1.0"
    assert wire["datacontenttype"] == "application/json"
    assert wire["type"] == "order.placed"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"data__lines__0__quantity": 0}, "data.lines.0.quantity: Input should be greater than"),
        ({"data__lines__0__quantity": -3}, "data.lines.0.quantity"),
        ({"data__lines__0__quantity": "2"}, "data.lines.0.quantity: Input should be a valid int"),
        ({"data__lines__0__unit_price": 8.5}, "money must be a decimal string"),
        ({"data__total": "36.9"}, "two places"),
        ({"data__total": "99.00"}, "is not the sum of the lines"),
        ({"data__customer_email": "not-an-email"}, "data.customer_email"),
        ({"data__lines": []}, "data.lines: Tuple should have at least 1 item"),
        ({"data__colour": "red"}, "data.colour: Extra inputs are not permitted"),
        ({"data__order_id": KeyError}, "data.order_id: Field required"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"id": KeyError}, "id: Field required"),
        ({"time": "yesterday"}, "time: Input should be a valid datetime"),
        ({"time": "2026-01-01T10:00:00"}, "time: Input should have timezone info"),
        ({"specversion": "0.3"}, "specversion"),
        ({"data__lines__0__sku": "mug blue"}, "data.lines.0.sku: String should match pattern"),
        ({"data__currency": "euro"}, "data.currency"),
    ],
)
def test_rejects_bad_payloads_with_readable_reasons(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_event(_doc(**changes))
    assert expected in exc.value.reason


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object, got list"),
        (b'{"type": "order.teleported"}', "unknown or unhandled event type: 'order.teleported'"),
        (b'{"data": {}}', "unknown or unhandled event type: None"),
    ],
)
def test_rejects_non_events(body: bytes, expected: str) -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_event(body)
    assert expected in exc.value.reason


def test_rejects_unsupported_schema_version() -> None:
    with pytest.raises(InvalidEvent, match="schema version 2 is not supported"):
        parse_event(_doc(schemaversion=2))


def test_accept_limits_the_event_types() -> None:
    with pytest.raises(InvalidEvent, match="unhandled"):
        parse_event(_doc(), accept={"stock.reserved"})


def test_published_json_schemas_are_current() -> None:
    assert generated_docs_main(["--check"]) == 0, "run: python -m broker.generated_docs"


def test_json_schema_describes_money_as_string() -> None:
    schema = event_schemas()["order.placed.v1.json"]
    line = schema["$defs"]["OrderLine"]["properties"]
    assert line["unit_price"]["type"] == "string"
    assert line["quantity"]["minimum"] == 1
    assert schema["$defs"]["OrderPlaced"]["additionalProperties"] is False
