"""The JSON Schema of every event (envelope + payload), one document per type and version.

Written to docs/schemas/ by `python -m broker.generated_docs`, with the other generated docs.
"""

from __future__ import annotations

import json
from typing import Any

from services.common.events.envelope import Envelope
from services.common.events.registry import EVENT_MODELS


def event_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per event type and version."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, model in sorted(EVENT_MODELS.items()):
        schema = Envelope[model].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = f"{event_type} v{model.schema_version}"
        schema["description"] = (model.__doc__ or "").strip()
        out[f"{event_type}.v{model.schema_version}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
