"""Export the JSON Schema of every event (envelope + payload) to docs/schemas/.

python -m services.common.events.schema          # write
python -m services.common.events.schema --check  # exit 1 if docs/schemas is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.common.events.envelope import Envelope
from services.common.events.registry import EVENT_MODELS

SCHEMA_DIR = Path("docs/schemas")


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, schema in event_schemas().items():
        path = args.dir / name
        text = render(schema)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("stale event schemas (run `python -m services.common.events.schema`):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
