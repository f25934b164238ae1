"""Which payload model belongs to which event type, and parsing raw bodies into envelopes."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.common.events.envelope import Envelope, EventData
from services.common.registry import Service


def _contracts() -> dict[str, type[EventData]]:
    """Every event contract. A service's contracts are the `EventData` subclasses (with an
    `event_type`) of `services/common/events/<service>.py`, the producer's module: each one is
    imported here, so a new service's contracts are a new module, nothing more."""
    package = Path(__file__).parent
    modules = {m.name for m in pkgutil.iter_modules([str(package)])}
    found: dict[str, type[EventData]] = {}
    for service in Service:
        if service.value not in modules:
            continue
        module = importlib.import_module(f"{__package__}.{service.value}")
        for model in vars(module).values():  # in the order the module defines them
            if (
                isinstance(model, type)
                and issubclass(model, EventData)
                and model.__module__ == module.__name__
                and isinstance(getattr(model, "event_type", None), str)
            ):
                found[model.event_type] = model
    return found


EVENT_MODELS: dict[str, type[EventData]] = _contracts()

# Each event type's envelope model, parametrized once (pydantic looks a parametrization up on
# every `Envelope[model]`).
ENVELOPES: dict[str, type[Envelope[Any]]] = {
    event_type: Envelope[model]  # type: ignore[valid-type]
    for event_type, model in EVENT_MODELS.items()
}


class InvalidEvent(ValueError):
    """A message that is not a valid event. `reason` is short and readable; it ends up in logs
    and in the dead-letter queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_errors(error: ValidationError) -> str:
    """`data.lines.0.quantity: Input should be greater than or equal to 1; ...`"""
    parts = []
    for err in error.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_event(
    body: bytes | str | dict[str, Any], *, accept: Collection[str] | None = None
) -> Envelope[Any]:
    """Validate a raw event (JSON bytes or an already decoded object) against its contract.

    `accept` limits the event types the caller handles; anything else is an `InvalidEvent`.
    """
    if isinstance(body, bytes | str):
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent(f"body is not valid JSON: {exc}") from exc
    else:
        doc = body
    if not isinstance(doc, dict):
        raise InvalidEvent(f"body must be a JSON object, got {type(doc).__name__}")
    event_type = doc.get("type")
    envelope_model = ENVELOPES.get(event_type) if isinstance(event_type, str) else None
    if envelope_model is None or (accept is not None and event_type not in accept):
        raise InvalidEvent(f"unknown or unhandled event type: {event_type!r}")
    model = EVENT_MODELS[str(event_type)]
    try:
        envelope = envelope_model.model_validate(doc)
    except ValidationError as exc:
        raise InvalidEvent(describe_errors(exc)) from exc
    if envelope.schemaversion != model.schema_version:
        raise InvalidEvent(
            f"{event_type} schema version {envelope.schemaversion} is not supported "
            f"(this consumer reads version {model.schema_version})"
        )
    return envelope
