"""Whether a change to an event's JSON Schema breaks a consumer (docs/events.md, "Changing an
event").

Under one schema version, two consumers read an event type's messages:
- a consumer still on the old schema reads what the changed producer sends, so the new schema
  must not *widen* what the old one checked (a higher maximum, another type, a field no longer
  required);
- a consumer on the new schema reads what was sent before the change (messages waiting in a
  queue or a dead-letter queue, the event log, a replay), so the new schema must not *narrow*
  it either (a lower maximum, a new required field, a removed field: our objects are closed).
A field that only the new schema has, and does not require, is the one change allowed: an old
consumer rejects it too (`extra="forbid"`), so consumers are deployed before the producer.

The comparison covers the JSON Schema that pydantic writes. A keyword it cannot order (a
`pattern`, a `format`, one it does not know) is taken as changed both ways when it differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

# Words for people, not constraints.
ANNOTATIONS = frozenset(
    {"title", "description", "examples", "default", "$comment", "deprecated", "readOnly"}
)
# Raising one of these narrows, lowering it widens; an upper bound the other way round.
LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"})
UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"})
COMBINATORS = ("anyOf", "oneOf", "allOf", "prefixItems")
OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties"})
_MISSING = object()

NARROWS = "a message sent before the change is rejected by a consumer on the new schema"
WIDENS = "the producer may now send what a consumer on the old schema rejects"


@dataclass(frozen=True)
class Change:
    path: str  # where, in the envelope: `data.lines[].quantity`
    what: str
    narrows: bool
    widens: bool

    def __str__(self) -> str:
        why = [text for flag, text in ((self.narrows, NARROWS), (self.widens, WIDENS)) if flag]
        return f"{self.path or '(root)'}: {self.what}: {'; and '.join(why)}"


def breaking_changes(old: Schema, new: Schema) -> list[Change]:
    """Every difference between `old` and `new` that breaks a consumer; [] if none does."""
    walk = _Walk(old, new)
    walk.node(old, new, "")
    return walk.changes


def _shown(value: Any) -> str:
    return "(none)" if value is _MISSING else repr(value)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Walk:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.roots = (old_root, new_root)
        self.changes: list[Change] = []
        self.visiting: set[tuple[str, str]] = set()

    def add(self, path: str, what: str, *, narrows: bool, widens: bool) -> None:
        if narrows or widens:
            self.changes.append(Change(path, what, narrows, widens))

    def node(self, old: Schema, new: Schema, path: str) -> None:
        refs = (str(old.get("$ref", "")), str(new.get("$ref", "")))
        if any(refs):
            if refs in self.visiting:  # a recursive model: compared once
                return
            self.visiting.add(refs)
        try:
            self._compare(_resolve(self.roots[0], old), _resolve(self.roots[1], new), path)
        finally:
            self.visiting.discard(refs)

    def _compare(self, old: Schema, new: Schema, path: str) -> None:
        keys = (old.keys() | new.keys()) - ANNOTATIONS - OBJECT_KEYS - {"$defs", "$ref"}
        for key in sorted(keys):
            was, now = old.get(key, _MISSING), new.get(key, _MISSING)
            # equal subschemas may still refer to changed definitions: compared inside
            if key == "items" and isinstance(was, Mapping) and isinstance(now, Mapping):
                self.node(was, now, f"{path}[]")
            elif key in COMBINATORS and isinstance(was, list) and isinstance(now, list):
                self._each(key, was, now, path)
            elif was == now:
                continue
            elif key == "type":
                self._type(was, now, path)
            elif key == "enum":
                self._enum(was, now, path)
            elif key in LOWER_BOUNDS or key in UPPER_BOUNDS:
                self._bound(key, was, now, path)
            else:
                # added: narrows; removed: widens; changed (a pattern, a const...): both
                self.add(
                    path,
                    f"{key} {_shown(was)} -> {_shown(now)}",
                    narrows=now is not _MISSING,
                    widens=was is not _MISSING,
                )
        if old.keys() & OBJECT_KEYS or new.keys() & OBJECT_KEYS:
            self._object(old, new, path)

    def _type(self, was: Any, now: Any, path: str) -> None:
        def kinds(value: Any) -> set[str] | None:  # None: any type
            if value is _MISSING:
                return None
            return {value} if isinstance(value, str) else set(value)

        def covers(types: set[str] | None, kind: str) -> bool:
            return types is None or kind in types or (kind == "integer" and "number" in types)

        old_kinds, new_kinds = kinds(was), kinds(now)
        narrows = old_kinds is None or not all(covers(new_kinds, k) for k in old_kinds)
        widens = new_kinds is None or not all(covers(old_kinds, k) for k in new_kinds)
        self.add(path, f"type {_shown(was)} -> {_shown(now)}", narrows=narrows, widens=widens)

    def _enum(self, was: Any, now: Any, path: str) -> None:
        if was is _MISSING or now is _MISSING:
            narrows, widens = was is _MISSING, now is _MISSING
        else:
            narrows = any(value not in now for value in was)
            widens = any(value not in was for value in now)
        self.add(path, f"enum {_shown(was)} -> {_shown(now)}", narrows=narrows, widens=widens)

    def _bound(self, key: str, was: Any, now: Any, path: str) -> None:
        if was is _MISSING or now is _MISSING:
            narrows, widens = was is _MISSING, now is _MISSING
        else:
            raised = now > was
            narrows = raised if key in LOWER_BOUNDS else not raised
            widens = not narrows
        self.add(path, f"{key} {_shown(was)} -> {_shown(now)}", narrows=narrows, widens=widens)

    def _each(self, key: str, was: list[Any], now: list[Any], path: str) -> None:
        if len(was) != len(now):
            self.add(path, f"{key} has {len(was)} -> {len(now)} parts", narrows=True, widens=True)
            return
        for index, (old, new) in enumerate(zip(was, now, strict=True)):
            self.node(old, new, f"{path}<{key}[{index}]>")

    def _object(self, old: Schema, new: Schema, path: str) -> None:
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        old_closed = old.get("additionalProperties") is False
        new_closed = new.get("additionalProperties") is False
        for name in sorted(old_fields.keys() | new_fields.keys()):
            where = _join(path, name)
            if name not in new_fields:
                self.add(
                    where,
                    "field removed" + (" (it was required)" if name in old_required else ""),
                    narrows=new_closed,
                    widens=name in old_required,
                )
            elif name not in old_fields:
                # An old consumer ignores nothing (see the module's docstring): not counted.
                required = name in new_required
                self.add(
                    where,
                    "new required field" if required else "new field where any was allowed",
                    narrows=required or not old_closed,
                    widens=False,
                )
            else:
                self.node(old_fields[name], new_fields[name], where)
                if name in new_required and name not in old_required:
                    self.add(where, "field now required", narrows=True, widens=False)
                if name in old_required and name not in new_required:
                    self.add(where, "field no longer required", narrows=False, widens=True)
        self._additional(old, new, path)

    def _additional(self, old: Schema, new: Schema, path: str) -> None:
        was = old.get("additionalProperties", True)
        now = new.get("additionalProperties", True)
        if isinstance(was, Mapping) and isinstance(now, Mapping):
            self.node(was, now, _join(path, "*"))
        elif was != now:
            self.add(
                path,
                f"additionalProperties {was!r} -> {now!r}",
                narrows=was is not False,
                widens=now is not False,
            )


def _resolve(root: Schema, schema: Schema) -> Schema:
    """The schema a local `$ref` points at, with the referring schema's own keywords on top."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    if not ref.startswith("#/"):
        raise ValueError(f"only local references can be compared, not {ref!r}")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
