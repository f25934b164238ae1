"""The event contracts' compatibility gate (broker/contract_gate.py): the code's schemas against
main's, and the rules for raising a schema version (docs/events.md, "Changing an event")."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from broker.contract_gate import (
    BASE_VARIABLE,
    SECTION,
    NoBaseline,
    Versions,
    baseline,
    check,
    noted,
    problems,
)
from tests.support.processes import PYTHON, REPO_ROOT


def test_the_event_contracts_are_compatible_with_main() -> None:
    try:
        base = baseline()
    except NoBaseline as exc:
        pytest.skip(f"event contracts not compared: {exc}")
    found = check(base)
    assert not found, f"compared with {base.described}:\n" + "\n".join(found)
    assert base.schemas, f"no schemas in docs/schemas at {base.described}"


@pytest.mark.documents(".venv/bin/python -m broker.contract_gate")
def test_the_report_says_what_it_compared_with() -> None:
    try:
        described = baseline().described
    except NoBaseline as exc:
        pytest.skip(f"event contracts not compared: {exc}")
    argv = [PYTHON, "-m", "broker.contract_gate"]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (0, f"event contracts compared with {described}: ok\n")


def _schema(*fields: str) -> dict[str, Any]:
    data = {
        "additionalProperties": False,
        "properties": {name: {"type": "string"} for name in fields},
        "required": list(fields),
        "type": "object",
    }
    return {"additionalProperties": False, "properties": {"data": data}, "type": "object"}


def _now() -> Versions:
    """Three events as main has them, in small (the real ones are compared above)."""
    return {
        "order.placed": {1: _schema("order_id", "currency")},
        "order.updated": {1: _schema("order_id", "step")},
        "stock.reserved": {1: _schema("order_id")},
    }


def _doc(*notes: str) -> str:
    lines = "".join(f"- {note}\n" for note in notes)
    return f"# Events\n\n{SECTION}\n\n{lines}\n## Next\n\n- `order.placed` v9: not this section\n"


def _without_currency(schema: dict[str, Any]) -> dict[str, Any]:
    data = schema["properties"]["data"]
    del data["properties"]["currency"]
    data["required"].remove("currency")
    return schema


def _raised(current: Versions, event_type: str) -> Versions:
    ((version, schema),) = current[event_type].items()
    current[event_type] = {version + 1: schema}
    return current


def test_unchanged_contracts_pass() -> None:
    assert problems(_now(), _now(), _now(), _doc()) == []


def test_a_breaking_change_names_the_event_and_the_field() -> None:
    current = _now()
    _without_currency(current["order.placed"][1])
    found = problems(current, _now(), _now(), _doc())
    assert found[0].startswith("order.placed v1: data.currency: field removed (it was required)")
    assert "raise its schema_version to 2" in found[1]
    assert len(found) == 2


def test_a_raised_version_with_its_note_passes() -> None:
    current = _raised(_now(), "order.placed")
    _without_currency(current["order.placed"][2])
    note = "`order.placed` v2 (from v1): no `currency`; it is always EUR."
    assert problems(current, _now(), _now(), _doc(note)) == []


def test_a_raised_version_without_its_note_fails() -> None:
    current = _raised(_now(), "order.placed")
    (found,) = problems(current, _now(), _now(), _doc("`order.confirmed` v2: another event"))
    assert found.startswith("order.placed: schema_version raised to 2, but the")


def test_a_raised_version_keeps_the_old_schema_file() -> None:
    current = _raised(_now(), "order.placed")
    kept = _now()
    del kept["order.placed"][1]
    (found,) = problems(current, _now(), kept, _doc("`order.placed` v2: ..."))
    assert "docs/schemas/order.placed.v1.json was removed or changed" in found


def test_a_version_raised_twice_or_lowered_fails() -> None:
    twice = _raised(_raised(_now(), "order.placed"), "order.placed")
    (found,) = problems(twice, _now(), _now(), _doc("`order.placed` v3: ..."))
    assert found == "order.placed: v1 -> v3 skips versions: raise by one"
    main = _raised(_now(), "stock.reserved")
    (found,) = problems(_now(), main, _now(), _doc())
    assert found == "stock.reserved: main has v2, the code v1: merge main"


def test_a_new_event_type_has_nothing_to_break() -> None:
    main = _now()
    del main["order.updated"]
    assert problems(_now(), main, _now(), _doc()) == []


def test_a_retired_event_type_needs_its_note() -> None:
    current = _now()
    del current["order.updated"]
    (found,) = problems(current, _now(), _now(), _doc())
    assert found.startswith("order.updated: on main (v1) but no longer in the code")
    assert problems(current, _now(), _now(), _doc("`order.updated` retired: unused")) == []


def test_only_the_schema_versions_section_counts() -> None:
    assert noted(_doc("`order.placed` v2: ..."), "order.placed", "v2")
    assert not noted(_doc(), "order.placed", "v9")
    assert not noted(_doc("`order.placed` v21: ..."), "order.placed", "v2")
    assert not noted("no such section; `order.placed` v2", "order.placed", "v2")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit(repo: Path, schemas: dict[str, dict[str, Any]], message: str) -> None:
    for name, schema in schemas.items():
        path = repo / "docs" / "schemas" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema))
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "side")
    return tmp_path


def test_without_a_commit_there_is_no_baseline(repo: Path) -> None:
    with pytest.raises(NoBaseline, match="not a git checkout with a commit"):
        baseline({}, repo)


def test_without_main_it_compares_with_head_and_says_so(repo: Path) -> None:
    _commit(repo, {"order.placed.v1.json": {"type": "object"}}, "first")
    base = baseline({}, repo)
    assert base.described.startswith("HEAD at ")
    assert "no main or origin/main here" in base.described
    assert base.schemas == {"order.placed": {1: {"type": "object"}}}


def test_on_a_branch_it_compares_with_where_it_left_main(repo: Path) -> None:
    _commit(repo, {"order.placed.v1.json": {"type": "object"}}, "on main")
    _git(repo, "branch", "main")
    _commit(repo, {"order.placed.v2.json": {"type": "object"}}, "on the branch")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, {"stock.reserved.v1.json": {}}, "main moves on")
    _git(repo, "checkout", "-q", "side")
    base = baseline({}, repo)
    assert base.described.startswith("main at ")
    assert base.schemas == {"order.placed": {1: {"type": "object"}}}
    with pytest.raises(ValueError, match="no such commit"):
        baseline({BASE_VARIABLE: "v0.9"}, repo)
    _git(repo, "tag", "v0.9")
    assert set(baseline({BASE_VARIABLE: "v0.9"}, repo).schemas["order.placed"]) == {1, 2}
