"""Every orders setting is documented in .env.example, and the example values parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.orders.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"


def example_values() -> dict[str, str]:
    pairs = re.findall(r"^(ORDERS_[A-Z_]+)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.M)
    return dict(pairs)


def test_every_setting_is_in_env_example() -> None:
    documented = set(example_values())
    fields = {f"ORDERS_{name.upper()}" for name in Settings.model_fields if name != "broker"}
    assert fields - documented == set()


def test_the_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in example_values().items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.database_url == "sqlite:///var/orders.db"
    assert settings.broker_user.endswith("-orders")
