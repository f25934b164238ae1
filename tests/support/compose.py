"""Docker Compose files as Compose reads them: its `!override` tag, and `-f a -f b` merged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from tests.support.processes import REPO_ROOT


@dataclass(frozen=True)
class Override:
    """Compose's `!override`: the value replaces the base file's instead of merging with it."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: with its `!override` tag."""


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


ComposeLoader.add_constructor("!override", _override)


def load_compose(name: str) -> dict[str, Any]:
    text = (REPO_ROOT / name).read_text()
    data: dict[str, Any] = yaml.load(text, Loader=ComposeLoader)  # noqa: S506
    return data


def merge_compose(base: Any, extra: Any) -> Any:
    """`docker compose -f base -f extra`, for what our files use: maps merge key by key, any
    other value and an `!override` replace."""
    if isinstance(extra, Override):
        return extra.value
    if isinstance(base, dict) and isinstance(extra, dict):
        return {
            key: merge_compose(base.get(key), extra.get(key, base.get(key))) for key in base | extra
        }
    return extra
