"""The rule that decides whether a schema change breaks a consumer (broker/schema_compat.py), on
small schemas shaped as pydantic writes ours: closed objects, `$defs` and `$ref`."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from broker.schema_compat import NARROWS, WIDENS, breaking_changes
from services.common.events import Envelope, OrderPlaced
from services.common.events.schema import event_schemas


def _base() -> dict[str, Any]:
    return {
        "$defs": {
            "Line": {
                "additionalProperties": False,
                "properties": {
                    "sku": {"pattern": "^[A-Z]+$", "type": "string"},
                    "quantity": {"maximum": 1000, "minimum": 1, "type": "integer"},
                },
                "required": ["sku", "quantity"],
                "type": "object",
            },
            "Thing": {
                "additionalProperties": False,
                "properties": {
                    "order_id": {"maxLength": 64, "type": "string"},
                    "status": {"enum": ["new", "done"], "type": "string"},
                    "lines": {"items": {"$ref": "#/$defs/Line"}, "type": "array"},
                    "note": {"default": "", "type": "string"},
                },
                "required": ["order_id", "status", "lines"],
                "title": "Thing",
                "type": "object",
            },
        },
        "additionalProperties": False,
        "properties": {"data": {"$ref": "#/$defs/Thing"}, "id": {"type": "string"}},
        "required": ["id", "data"],
        "type": "object",
    }


def _changed(edit: Callable[[dict[str, Any]], object]) -> list[str]:
    new = copy.deepcopy(_base())
    edit(new)
    return [str(change) for change in breaking_changes(_base(), new)]


def _thing(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["Thing"]  # type: ignore[no-any-return]


def _remove_order_id(schema: dict[str, Any]) -> None:
    del _thing(schema)["properties"]["order_id"]
    _thing(schema)["required"].remove("order_id")


def test_the_same_schema_is_compatible() -> None:
    assert breaking_changes(_base(), _base()) == []


def test_a_removed_field_breaks_both_ways() -> None:
    (change,) = _changed(_remove_order_id)
    assert change.startswith("data.order_id: field removed (it was required)")
    assert NARROWS in change
    assert WIDENS in change


def test_a_removed_optional_field_breaks_old_messages() -> None:
    (change,) = _changed(lambda s: _thing(s)["properties"].pop("note"))
    assert change == f"data.note: field removed: {NARROWS}"


def test_a_retyped_field_breaks() -> None:
    (change,) = _changed(lambda s: _thing(s)["properties"]["order_id"].update(type="integer"))
    assert change.startswith("data.order_id: type 'string' -> 'integer'")


def test_a_new_required_field_breaks() -> None:
    def add(schema: dict[str, Any]) -> None:
        _thing(schema)["properties"]["express"] = {"type": "boolean"}
        _thing(schema)["required"].append("express")

    assert _changed(add) == [f"data.express: new required field: {NARROWS}"]


def test_a_new_optional_field_is_compatible() -> None:
    def add(schema: dict[str, Any]) -> None:
        _thing(schema)["properties"]["express"] = {"default": False, "type": "boolean"}

    assert _changed(add) == []


def test_a_field_made_optional_breaks_old_consumers() -> None:
    (change,) = _changed(lambda s: _thing(s)["required"].remove("status"))
    assert change == f"data.status: field no longer required: {WIDENS}"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: _thing(s)["properties"]["status"].update(enum=["new"]), NARROWS),
        (lambda s: _thing(s)["properties"]["status"].update(enum=["new", "done", "x"]), WIDENS),
        (lambda s: _thing(s)["properties"]["order_id"].update(maxLength=32), NARROWS),
        (lambda s: _thing(s)["properties"]["order_id"].update(maxLength=128), WIDENS),
        (lambda s: _thing(s)["properties"]["order_id"].update(minLength=1), NARROWS),
        (lambda s: _thing(s)["properties"]["order_id"].update(type=["string", "null"]), WIDENS),
    ],
    ids=["enum-narrowed", "enum-widened", "max-lowered", "max-raised", "min-added", "nullable"],
)
def test_a_narrowed_or_widened_constraint_breaks(
    edit: Callable[[dict[str, Any]], object], expected: str
) -> None:
    (change,) = _changed(edit)
    assert change.startswith("data.")
    assert change.endswith(f": {expected}")


def test_a_change_inside_a_referenced_definition_is_found() -> None:
    """`lines.items` is the same `$ref` before and after; what it points at changed."""
    changes = _changed(lambda s: s["$defs"]["Line"]["properties"]["quantity"].update(maximum=10))
    assert changes == [f"data.lines[].quantity: maximum 1000 -> 10: {NARROWS}"]


def test_a_changed_pattern_breaks_both_ways() -> None:
    (change,) = _changed(lambda s: s["$defs"]["Line"]["properties"]["sku"].update(pattern="^x$"))
    assert change.startswith("data.lines[].sku: pattern '^[A-Z]+$' -> '^x$'")
    assert NARROWS in change
    assert WIDENS in change


def test_words_for_people_are_not_a_change() -> None:
    def reword(schema: dict[str, Any]) -> None:
        _thing(schema).update(title="Other", description="Reworded")
        _thing(schema)["properties"]["order_id"]["examples"] = ["A-1"]

    assert _changed(reword) == []


def test_opening_a_closed_object_breaks_old_consumers() -> None:
    (change,) = _changed(lambda s: _thing(s).pop("additionalProperties"))
    assert change == f"data: additionalProperties False -> True: {WIDENS}"


class _GiftWrappedOrderPlaced(OrderPlaced):
    """order.placed with one more optional field, as pydantic writes it (not registered)."""

    event_type: ClassVar[str] = "order.placed"
    gift_wrap: bool = False


def test_an_optional_field_on_a_real_contract_is_compatible() -> None:
    before = event_schemas()["order.placed.v1.json"]
    after = Envelope[_GiftWrappedOrderPlaced].model_json_schema()
    assert "gift_wrap" in after["$defs"]["_GiftWrappedOrderPlaced"]["properties"]
    assert breaking_changes(before, after) == []


class _StrictOrderPlaced(OrderPlaced):
    event_type: ClassVar[str] = "order.placed"
    gift_wrap: bool


def test_a_required_field_on_a_real_contract_breaks() -> None:
    before = event_schemas()["order.placed.v1.json"]
    after = Envelope[_StrictOrderPlaced].model_json_schema()
    assert [str(c) for c in breaking_changes(before, after)] == [
        f"data.gift_wrap: new required field: {NARROWS}"
    ]


def test_every_contract_is_compatible_with_itself() -> None:
    for schema in event_schemas().values():
        assert breaking_changes(schema, copy.deepcopy(schema)) == []
