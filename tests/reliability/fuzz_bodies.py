"""Hypothesis strategies for hostile requests to the orders API.

Bodies are built field by field from the request schema: each field is either valid (so that
some orders get through and the "accepted" half of the oracle is exercised too) or hostile
(wrong type, out of range, unicode tricks, SQL-looking text, arbitrary nested JSON), and extra
fields may appear. Raw bodies cover what JSON encoders never produce.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from services.common.catalogue import DEMO_CATALOGUE
from services.common.events.orders import SKU_PATTERN

SKUS = [item.sku for item in DEMO_CATALOGUE]

SQL_LOOKING = [
    "' OR '1'='1",
    "'; DROP TABLE orders; --",
    '" OR ""="',
    "1; DELETE FROM outbox",
    "MUG-BLUE' --",
    "ada@example.com' OR 1=1 --",
    "%' UNION SELECT * FROM idempotency_keys --",
]
UNICODE_TRICKS = [
    "\u041c\u0423\u0413-BLUE",  # Cyrillic look-alikes of MUG
    "\uff2d\uff35\uff27-BLUE",  # fullwidth MUG
    "MUG-BLUE\u200b",  # zero-width space
    "MUG\u2011BLUE",  # non-breaking hyphen
    "\u202eEULB-GUM",  # right-to-left override
    "MUG-BLUE\x00",
    "a\x00@example.com",
    "\ud800",  # a lone surrogate: valid in JSON text, not in UTF-8
    "ad\u0430@example.com",  # Cyrillic a in the local part
    "\U0001f600@example.com",
    "e\u0301@example.com",  # combining accent
    "",
    " ",
    "\n",
]

text = st.one_of(st.text(max_size=40), st.sampled_from(SQL_LOOKING + UNICODE_TRICKS))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def valid_or(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    return st.one_of(valid, valid, hostile)  # valid twice as often: some orders get through


emails = valid_or(
    st.sampled_from(["ada@example.com", "grace@example.org", "\u00e4d\u00e4@ex\u00e4mple.com"]),
    st.one_of(json_values, st.emails().map(lambda e: e + "\x00"), st.text(min_size=250)),
)
skus = valid_or(st.sampled_from(SKUS), st.one_of(st.from_regex(SKU_PATTERN), json_values))
quantities = valid_or(
    st.integers(min_value=1, max_value=1000),
    st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.sampled_from([0, 1001, 2**31, 2**63, -(2**63), 10**100]),
        st.floats(),
        st.sampled_from(["2", "1e3", True, None, [], {}]),
    ),
)
lines = st.fixed_dictionaries(
    {"sku": skus, "quantity": quantities},
    optional={"unit_price": json_values, "sku ": text},
)
line_lists = valid_or(
    st.lists(lines, min_size=1, max_size=4, unique_by=lambda ln: str(ln.get("sku"))),
    st.one_of(st.lists(lines, max_size=120), json_values),
)
currencies = valid_or(st.just("EUR"), st.one_of(st.from_regex(r"^[A-Z]{3}$"), json_values))

order_bodies = st.fixed_dictionaries(
    {"customer_email": emails, "lines": line_lists},
    optional={"currency": currencies, "coupon": json_values, "": json_values, "__proto__": text},
)
valid_lines: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"sku": st.sampled_from(SKUS), "quantity": st.integers(min_value=1, max_value=1000)}
)
valid_bodies: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {
        "customer_email": st.sampled_from(["ada@example.com", "\u00e4d\u00e4@ex\u00e4mple.com"]),
        "lines": st.lists(valid_lines, min_size=1, max_size=4, unique_by=lambda ln: ln["sku"]),
    },
    optional={"currency": st.just("EUR")},
)


@st.composite
def one_field_wrong(draw: st.DrawFn) -> dict[str, Any]:
    """A valid order with exactly one thing wrong: a field replaced, removed or added, at the
    top or in a line."""
    body: dict[str, Any] = draw(valid_bodies)
    where = draw(st.sampled_from(["customer_email", "lines", "currency", "line", "extra", "drop"]))
    if where == "line":
        position = draw(st.integers(min_value=0, max_value=len(body["lines"]) - 1))
        name = draw(st.sampled_from(["sku", "quantity", "unit_price"]))
        hostile = {"sku": skus, "quantity": quantities, "unit_price": json_values}[name]
        body["lines"][position] = {**body["lines"][position], name: draw(hostile)}
    elif where == "extra":
        body[draw(text)] = draw(json_values)
    elif where == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    else:
        body[where] = draw({"customer_email": emails, "lines": line_lists}.get(where, currencies))
    return body


anything = st.one_of(valid_bodies, one_field_wrong(), one_field_wrong(), order_bodies, json_values)


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Bytes no JSON encoder would send: truncated, spliced with junk, deeply nested, not UTF-8,
    numbers too long to parse."""
    whole = json.dumps(draw(order_bodies)).encode()
    cut = draw(st.integers(min_value=0, max_value=len(whole)))
    depth = draw(st.integers(min_value=1, max_value=3000))
    return draw(
        st.sampled_from(
            [
                whole[:cut],
                whole[:cut] + draw(st.binary(max_size=8)) + whole[cut:],
                b"[" * depth + b"]" * depth,
                b'{"customer_email":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
                b'{"lines":[{"sku":"MUG-BLUE","quantity":' + b"9" * (depth + 1000) + b"}]}",
                whole.decode().encode("utf-16"),
            ]
        )
    )


header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
    st.sampled_from(SQL_LOOKING),
    st.binary(min_size=1, max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
path_ids = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=80),
    st.sampled_from(SQL_LOOKING),
)
query_values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["PENDING", "pending", "PENDING' OR 1=1", "1e3", "", "\x00", "NaN"]),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30),
)
