"""Money on the wire: a decimal string with two places, never a JSON number."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

_MONEY_RE = re.compile(r"^(0|[1-9][0-9]{0,11})\.[0-9]{2}$")


def _parse_money(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        value = f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if not isinstance(value, str):
        raise ValueError("money must be a decimal string such as '12.50', not a number")
    if not _MONEY_RE.match(value):
        raise ValueError(
            "money must be a non-negative decimal string with two places, e.g. '12.50'"
        )
    return Decimal(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_parse_money),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str),
    WithJsonSchema({"type": "string", "pattern": _MONEY_RE.pattern, "examples": ["12.50"]}),
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
