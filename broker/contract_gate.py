"""The event contracts' compatibility gate (docs/events.md, "Changing an event").

Every event's JSON Schema as the code produces it now is compared with the schemas committed
in docs/schemas/ on main, where this branch left main (`git merge-base HEAD main`). It is part
of `make test` (tests/unit/test_event_compatibility.py); `python -m broker.contract_gate` prints
the same report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.schema_compat import breaking_changes
from services.common.events.schema import event_schemas

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = "docs/schemas"
EVENTS_DOC = "docs/events.md"
SECTION = "## Schema versions"
# A release tag, say, to compare with instead of main.
BASE_VARIABLE = "SHOPFLOW_CONTRACT_BASE"
MAIN_REFS = ("main", "origin/main")
FILE_NAME = re.compile(r"^(?P<type>[a-z_]+\.[a-z_]+)\.v(?P<version>[0-9]+)\.json$")

# event type -> schema version -> schema
Versions = dict[str, dict[int, dict[str, Any]]]


@dataclass(frozen=True)
class Baseline:
    described: str  # what was compared with, for the report: `main at 1a2b3c4d5e (...)`
    schemas: Versions


class NoBaseline(Exception):
    """No commit to compare with: not a git checkout, or one without commits."""


def by_type(files: Mapping[str, dict[str, Any]]) -> Versions:
    """`{"order.placed.v1.json": schema}` -> `{"order.placed": {1: schema}}`."""
    out: Versions = {}
    for name, schema in files.items():
        found = FILE_NAME.match(name)
        if found:
            out.setdefault(found["type"], {})[int(found["version"])] = schema
    return out


def noted(events_doc: str, event_type: str, word: str) -> bool:
    """Whether the "Schema versions" section of docs/events.md says `` `event_type` word ``."""
    _, found, rest = events_doc.partition(f"\n{SECTION}\n")
    section = re.split(r"\n## ", rest, maxsplit=1)[0] if found else ""
    return re.search(rf"`{re.escape(event_type)}` {re.escape(word)}\b", section) is not None


def problems(current: Versions, main: Versions, kept: Versions, events_doc: str) -> list[str]:
    """Each way the code's event schemas (`current`) break the rules against main's (`main`);
    `kept` is what docs/schemas/ holds now, `events_doc` the text of docs/events.md."""
    found: list[str] = []
    for event_type, published in sorted(main.items()):
        latest = max(published)
        if event_type not in current:
            if not noted(events_doc, event_type, "retired"):
                found.append(
                    f"{event_type}: on main (v{latest}) but no longer in the code; say "
                    f"`{event_type}` retired under {SECTION!r} in {EVENTS_DOC}"
                )
            continue
        ((version, schema),) = current[event_type].items()
        if version == latest:
            changes = breaking_changes(published[latest], schema)
            found += [f"{event_type} v{version}: {change}" for change in changes]
            if changes:
                found.append(
                    f"{event_type}: undo the change above, or raise its schema_version to "
                    f"{version + 1} and say `{event_type}` v{version + 1} under {SECTION!r} "
                    f"in {EVENTS_DOC}"
                )
        elif version < latest:
            found.append(f"{event_type}: main has v{latest}, the code v{version}: merge main")
            continue
        elif version > latest + 1:
            found.append(f"{event_type}: v{latest} -> v{version} skips versions: raise by one")
        elif not noted(events_doc, event_type, f"v{version}"):
            found.append(
                f"{event_type}: schema_version raised to {version}, but the {SECTION!r} "
                f"section of {EVENTS_DOC} does not say `{event_type}` v{version}"
            )
        for old_version, old_schema in sorted(published.items()):
            if old_version != version and kept.get(event_type, {}).get(old_version) != old_schema:
                found.append(
                    f"{event_type}: {SCHEMA_DIR}/{event_type}.v{old_version}.json was removed "
                    "or changed: a published version's schema stays as main has it"
                )
    return found


def _git(root: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def _schemas_at(root: Path, commit: str) -> Versions:
    listing = _git(root, "ls-tree", "--name-only", f"{commit}:{SCHEMA_DIR}") or ""
    files = {}
    for name in listing.splitlines():
        text = _git(root, "show", f"{commit}:{SCHEMA_DIR}/{name}")
        if text is not None and FILE_NAME.match(name):
            files[name] = json.loads(text)
    return by_type(files)


def baseline(environ: Mapping[str, str] = os.environ, root: Path = REPO_ROOT) -> Baseline:
    """Main's schemas where this branch left main; with no main here, HEAD's (said so)."""
    if _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}") is None:
        raise NoBaseline(f"{root} is not a git checkout with a commit")
    chosen = environ.get(BASE_VARIABLE)
    for ref in [chosen] if chosen else MAIN_REFS:
        commit = _git(root, "merge-base", "HEAD", ref)
        if commit:
            described = f"{ref} at {commit[:10]} (its merge base with HEAD)"
            return Baseline(described, _schemas_at(root, commit))
    if chosen:
        raise ValueError(f"{BASE_VARIABLE}={chosen!r}: no such commit here")
    head = str(_git(root, "rev-parse", "HEAD"))
    return Baseline(
        f"HEAD at {head[:10]} (no main or origin/main here: only uncommitted changes are checked)",
        _schemas_at(root, head),
    )


def current_schemas() -> Versions:
    """What the code produces now (not the committed files: a model edited without
    regenerating them is compared too)."""
    return by_type(event_schemas())


def kept_schemas() -> Versions:
    return by_type(
        {p.name: json.loads(p.read_text()) for p in (REPO_ROOT / SCHEMA_DIR).glob("*.json")}
    )


def check(base: Baseline) -> list[str]:
    events_doc = (REPO_ROOT / EVENTS_DOC).read_text()
    return problems(current_schemas(), base.schemas, kept_schemas(), events_doc)


def main() -> int:
    try:
        base = baseline()
    except NoBaseline as exc:
        print(f"event contracts not compared: {exc}")
        return 1
    found = check(base)
    print(f"event contracts compared with {base.described}:", "breaking" if found else "ok")
    for line in found:
        print(f"  {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
