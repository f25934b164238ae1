"""The Makefile's targets as the docs name them: each recipe line with `$(BIN)` as `.venv/bin`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.processes import REPO_ROOT

RULE = re.compile(r"^(?P<target>[a-z][a-z0-9-]*):(?!=)(?P<prerequisites>[^#]*)")


@dataclass(frozen=True)
class Target:
    name: str
    prerequisites: tuple[str, ...]
    recipe: tuple[str, ...]  # whitespace collapsed, $(BIN) written out


def targets() -> dict[str, Target]:
    found: dict[str, Target] = {}
    lines = (REPO_ROOT / "Makefile").read_text().splitlines()
    for i, line in enumerate(lines):
        rule = RULE.match(line)
        if not rule:
            continue
        recipe = []
        for step in lines[i + 1 :]:
            if re.match(r"^ +#", step):  # a comment that goes on from the rule's line
                continue
            if not step.startswith("\t"):
                break
            recipe.append(" ".join(step.lstrip("\t@").replace("$(BIN)", ".venv/bin").split()))
        name = rule["target"]
        found[name] = Target(name, tuple(rule["prerequisites"].split()), tuple(recipe))
    return found


def run_by(name: str, every: dict[str, Target]) -> set[str]:
    """`name` and every target it depends on, however deep."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in every and current not in seen:
            seen.add(current)
            todo.extend(every[current].prerequisites)
    return seen
