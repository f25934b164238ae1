"""Every setting of every service is documented in .env.example, and the example values parse."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.common.settings import ServiceSettings, env_prefix
from services.email.settings import Settings as EmailSettings
from services.inventory.settings import Settings as InventorySettings
from services.orders.settings import Settings as OrdersSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
SERVICES: list[type[ServiceSettings]] = [OrdersSettings, InventorySettings, EmailSettings]


def example_values(prefix: str) -> dict[str, str]:
    pairs = re.findall(rf"^({prefix}[A-Z_]+)=(.*)$", ENV_EXAMPLE.read_text(), flags=re.M)
    return dict(pairs)


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.service.value)
def test_every_setting_is_in_env_example(settings_class: type[ServiceSettings]) -> None:
    prefix = env_prefix(settings_class.service)
    documented = set(example_values(prefix))
    optional = {"smtp_user", "smtp_password"}  # documented commented out: no value is the default
    fields = {
        f"{prefix}{name.upper()}"
        for name in settings_class.model_fields
        if name != "broker" and name not in optional
    }
    assert fields - documented == set()


@pytest.mark.parametrize("settings_class", SERVICES, ids=lambda c: c.service.value)
def test_the_example_values_are_valid(
    settings_class: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in example_values(env_prefix(settings_class.service)).items():
        monkeypatch.setenv(key, value)
    settings: BaseSettings = settings_class()
    assert isinstance(settings, ServiceSettings)
    assert settings.broker_user.endswith(f"-{settings_class.service.value}")


def test_broker_settings_are_documented() -> None:
    for name in (
        "BROKER_HOST",
        "BROKER_VHOST",
        "BROKER_QUEUE_TYPE",
        "BROKER_MONITOR_PASSWORD",
        "BROKER_FLOWER_PASSWORD",
    ):
        assert re.search(rf"^{name}=", ENV_EXAMPLE.read_text(), flags=re.M), name
