"""Every environment variable of the system, read off the Settings classes themselves.

`docs/configuration.md` is this module's rendering (`python -m deploy.configuration`
writes it; a test checks it is current), so the reference cannot drift from the code. The
`.env.example` that `make up` copies holds the variables a newcomer may want to change; a test
checks that each value it states is the default stated here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from broker.cluster.settings import ClusterSettings
from broker.flower import FlowerSettings
from broker.settings import ProvisionSettings, ReplayLogin
from services.common.outbox.settings import RelayTuning
from services.common.registry import Service
from services.common.settings import (
    BrokerSettings,
    EventLogSettings,
    Knobs,
    LogSettings,
    MetricsSettings,
    RetentionSettings,
    ServiceSettings,
    env_prefix,
    settings_class,
)
from services.common.worker.settings import RetryPolicy, WorkerTuning
from services.email.sink.config import SinkSettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: required, no default (a secret)
    description: str


def _text(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return str(value).lower()
    return str(value.value if hasattr(value, "value") else value)


def _default(field: FieldInfo) -> str | None:
    """The default as .env would spell it; None for a secret, which has no default in code."""
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    if default is None and (field.is_required() or "SecretStr" in str(field.annotation)):
        return None
    return _text(default)


def _plain_fields(cls: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel | BaseSettings):
            continue  # a nested group: listed on its own
        yield name, field


def settings_variables(cls: type[BaseSettings], prefix: str) -> list[Variable]:
    """The plain variables of one Settings class read with `prefix`."""
    return [
        Variable(f"{prefix}{name}".upper(), _default(field), field.description or "")
        for name, field in _plain_fields(cls)
    ]


def knob_variables(group: type[Knobs]) -> list[Variable]:
    """A knob group's shared variables (for those that every service reads)."""
    return [
        Variable(f"{group.prefix}{name}".upper(), _default(field), field.description or "")
        for name, field in group.model_fields.items()
        if name not in group.per_service
    ]


def service_variables(cls: type[ServiceSettings]) -> list[Variable]:
    """A service's own variables, and its knob settings that differ from the shared default."""
    prefix = env_prefix(cls.service)
    found = settings_variables(cls, prefix)
    for field in cls.model_fields.values():
        group = field.annotation
        if not (isinstance(group, type) and issubclass(group, Knobs)):
            continue
        own, shared = field.get_default(), group()
        for knob, knob_field in group.model_fields.items():
            value = getattr(own, knob)
            if knob in group.per_service or value != getattr(shared, knob):
                found.append(
                    Variable(
                        f"{prefix}{group.prefix}{knob}".upper(),
                        _text(value),
                        knob_field.description or f"this service's {group.prefix}{knob}".upper(),
                    )
                )
    return found


def sections() -> dict[str, list[Variable]]:
    """Heading -> variables, in the order docs/configuration.md shows them."""
    return {
        "The broker (every process)": settings_variables(BrokerSettings, "BROKER_"),
        "The vhost tool, Flower and the replay tool": settings_variables(
            ProvisionSettings, "BROKER_"
        )
        + settings_variables(FlowerSettings, "FLOWER_")
        + settings_variables(ReplayLogin, "BROKER_"),
        "The event logs (the vhost tool)": settings_variables(EventLogSettings, "EVENT_LOG_"),
        "Every process": knob_variables(LogSettings) + knob_variables(MetricsSettings),
        "Every worker": knob_variables(WorkerTuning) + knob_variables(RetryPolicy),
        "Every relay": knob_variables(RelayTuning),
        "Retention (every relay and worker)": knob_variables(RetentionSettings),
        **{service.value: service_variables(settings_class(service)) for service in Service},
        "The development SMTP sink": settings_variables(SinkSettings, "EMAIL_SINK_"),
        "The local 3-node cluster (python -m broker.cluster)": settings_variables(
            ClusterSettings, "BROKER_CLUSTER_"
        ),
    }


def every_variable() -> dict[str, Variable]:
    return {v.name: v for variables in sections().values() for v in variables}


def render() -> str:
    lines = [
        "# Configuration",
        "",
        "<!-- generated by `python -m deploy.configuration`; do not edit -->",
        "",
        "Every process reads its settings from the environment, then from `.env` (made once",
        "from [`.env.example`](../.env.example) by `make up`). A shared variable such as",
        "`WORKER_CONCURRENCY` applies to every service; `<SERVICE>_WORKER_CONCURRENCY` (for",
        "example `EMAIL_WORKER_CONCURRENCY`) overrides it for one service. Required variables",
        "(passwords) have no default in code.",
    ]
    for heading, variables in sections().items():
        lines += ["", f"## {heading}", "", "| variable | default | meaning |", "|---|---|---|"]
        for v in variables:
            default = {None: "*(secret: no default)*", "": "*(none)*"}.get(
                v.default, f"`{v.default}`"
            )
            lines.append(f"| `{v.name}` | {default} | {v.description} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    DOC.write_text(render())
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
