"""Configuration stays true: docs/configuration.md is generated from the Settings classes, and
.env.example states only real variables, with their real defaults, and at most 40 of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.configuration import DOC, every_variable, render
from services.common.settings import ServiceSettings
from services.email.settings import Settings as EmailSettings
from services.inventory.settings import Settings as InventorySettings
from services.orders.settings import Settings as OrdersSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SERVICES: list[type[ServiceSettings]] = [OrdersSettings, InventorySettings, EmailSettings]
COMPOSE_ONLY = "COMPOSE_"  # read by docker-compose.yml, not by any Settings class


def example() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.M))


def test_the_configuration_reference_is_current() -> None:
    assert DOC.read_text() == render(), "run: python -m deploy.configuration"


def test_env_example_is_short() -> None:
    assert len(example()) <= 40


def test_env_example_names_only_real_variables_with_their_real_defaults() -> None:
    known = every_variable()
    for name, value in example().items():
        if name.startswith(COMPOSE_ONLY):
            continue
        assert name in known, f"{name} is not read by any Settings class"
        default = known[name].default
        if default is not None:  # a secret has no default: any value will do
            assert value == default, f"{name}={value} but the code's default is {default}"


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.service.value)
def test_the_example_values_are_valid(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in example().items():
        monkeypatch.setenv(key, value)
    settings = settings_class()
    assert settings.broker_user.endswith(f"-{settings_class.service.value}")
