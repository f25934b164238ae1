"""Generated parts of docs/: written from the definitions, checked by a unit test.

    python -m broker.generated_docs          # rewrite every generated block / file
    python -m broker.generated_docs --check  # exit 1 if any is stale

A generated block sits between `<!-- BEGIN GENERATED ... -->` and `<!-- END GENERATED -->`, so
the prose around it is written by hand and the facts inside it cannot drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from broker.topology_doc import render as render_topology
from services.common import topology as t
from services.common.events import EVENT_MODELS, Envelope, EventData
from services.common.events.schema import event_schemas
from services.common.events.schema import render as render_schema

BEGIN = "<!-- BEGIN GENERATED: python -m broker.generated_docs -->"
END = "<!-- END GENERATED -->"


def _exchange_of(event_type: str) -> str:
    return next(ex for ex, keys in t.EVENT_EXCHANGES.items() if event_type in keys)


def _producer(event_type: str) -> str:
    exchange = _exchange_of(event_type)
    for service, publications in t.EVENT_PUBLICATIONS.items():
        if any(ex == exchange for ex, _ in publications):
            return f"{service.value} → `{exchange}`"
    return f"? → `{exchange}`"


def _consumers(event_type: str) -> str:
    found = [
        f"{service.value} (`{queue}`)"
        for service, subscriptions in t.EVENT_SUBSCRIPTIONS.items()
        for queue, _, keys in subscriptions
        if event_type in keys
    ]
    return (
        ", ".join(found)
        or f"— (no consumer yet: kept in `{t.event_log(_exchange_of(event_type))}`)"
    )


def event_catalogue() -> str:
    rows = [
        "| event type (= routing key) | version | producer → exchange | consumers (queue) "
        "| what it means | schema |",
        "|---|---|---|---|---|---|",
    ]
    for event_type, model in EVENT_MODELS.items():
        doc = (model.__doc__ or "").strip().splitlines()[0]
        schema = f"schemas/{event_type}.v{model.schema_version}.json"
        rows.append(
            f"| `{event_type}` | {model.schema_version} | {_producer(event_type)} | "
            f"{_consumers(event_type)} | {doc} | [{schema}]({schema}) |"
        )
    return "\n".join(rows)


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document: one channel per event type on its exchange."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for event_type, model in EVENT_MODELS.items():
        key = event_type.replace(".", "_")
        schemas.update(_envelope_schemas(key, model))
        channels[key] = _channel(key, event_type, model)
        operations[f"publish_{key}"] = _publish_operation(key)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "shopflow events",
            "version": "1.0.0",
            "description": "Generated from services/common/events and services/common/topology"
            " by `python -m broker.generated_docs`. Do not edit by hand.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "pathname": f"/{t.DEFAULT_VHOST}",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas},
    }


def _envelope_schemas(key: str, model: type[EventData]) -> dict[str, Any]:
    """The JSON schema of the event's envelope, and of each model it refers to."""
    schema = Envelope[model].model_json_schema(ref_template="#/components/schemas/{model}")  # type: ignore[valid-type]
    return {**schema.pop("$defs", {}), f"{key}_envelope": schema}


def _channel(key: str, event_type: str, model: type[EventData]) -> dict[str, Any]:
    return {
        "address": event_type,
        "description": (model.__doc__ or "").strip(),
        "messages": {
            key: {
                "name": event_type,
                "contentType": "application/json",
                "payload": {"$ref": f"#/components/schemas/{key}_envelope"},
                "correlationId": {"location": "$message.payload#/correlationid"},
            }
        },
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": _exchange_of(event_type),
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": t.DEFAULT_VHOST,
                },
                "bindingVersion": "0.3.0",
            }
        },
    }


def _publish_operation(key: str) -> dict[str, Any]:
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{key}"},
        "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        "bindings": {"amqp": {"deliveryMode": 2, "mandatory": True, "bindingVersion": "0.3.0"}},
    }


def _fixed(content: str, _old_text: str) -> str:
    return content


def _replace_block(text: str, content: str) -> str:
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    return f"{before}{BEGIN}\n\n{content}\n\n{END}{after}"


GENERATED: dict[Path, Callable[[str], str]] = {
    Path("docs/events.md"): lambda text: _replace_block(text, event_catalogue()),
    Path("docs/topology.md"): lambda text: _replace_block(text, render_topology()),
    Path("docs/asyncapi.json"): lambda _text: json.dumps(asyncapi(), indent=2) + "\n",
    **{
        Path("docs/schemas") / name: partial(_fixed, render_schema(schema))
        for name, schema in event_schemas().items()
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if anything is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, update in GENERATED.items():
        old = path.read_text() if path.exists() else ""
        new = update(old)
        if new != old:
            if args.check:
                stale.append(str(path))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new)
                print(f"wrote {path}")
    if stale:
        print("stale generated docs (run `python -m broker.generated_docs`):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
