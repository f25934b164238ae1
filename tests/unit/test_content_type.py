"""Which content types the ingress reads as a JSON event (services/common/worker/content_type.py).
The real worker's verdicts: tests/integration/worker/test_ingress_content_type.py."""

from __future__ import annotations

import pytest

from services.common.worker.content_type import json_content_type_problem

READABLE = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json;charset=UTF-8",
    'Application/JSON; Charset="utf-8"',
    "application/json; charset=utf8",
    "application/json; charset=us-ascii",
    "application/json; profile=shopflow; charset=utf-8",
    " application/json ",
]

REFUSED = {
    "application/json; charset=iso-8859-1": "charset 'iso-8859-1' is not utf-8",
    "application/json; charset=utf-16": "charset 'utf-16' is not utf-8",
    "application/json; charset=no-such-charset": "charset 'no-such-charset' is not utf-8",
    "application/json; charset=": "charset '' is not utf-8",
    "text/plain; charset=utf-8": "is not application/json",
    "application/x-python-serialize": "is not application/json",
    "application/cloudevents+json": "is not application/json",
    "application/json/extra": "is not application/json",
    "": "is not application/json",
}


@pytest.mark.parametrize("content_type", READABLE)
def test_json_with_or_without_parameters_is_read(content_type: str) -> None:
    assert json_content_type_problem(content_type) is None


@pytest.mark.parametrize("content_type", REFUSED)
def test_anything_else_is_refused_with_a_reason_naming_it(content_type: str) -> None:
    problem = json_content_type_problem(content_type)
    assert problem is not None
    assert REFUSED[content_type] in problem
    assert repr(content_type) in problem


def test_no_content_type_at_all_is_refused() -> None:
    assert json_content_type_problem(None) == "content type None is not application/json"
