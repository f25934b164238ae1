"""Shared knobs: defined once, read from `WORKER_*` by every service, overridden per service by
`<SERVICE>_WORKER_*`, from the environment or from `.env`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.email.settings import Settings as EmailSettings
from services.inventory.settings import Settings as InventorySettings
from services.orders.settings import Settings as OrdersSettings


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("ORDERS", "INVENTORY", "EMAIL"):
        monkeypatch.setenv(f"{service}_BROKER_PASSWORD", "x")


def test_a_shared_knob_applies_to_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    for settings in (OrdersSettings(), InventorySettings(), EmailSettings()):
        assert settings.worker.concurrency == 7
        assert settings.log.level == "DEBUG"
        assert settings.worker.pool == "threads"  # the rest keep their defaults


def test_a_service_variable_overrides_the_shared_one_for_that_service_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("INVENTORY_WORKER_CONCURRENCY", "2")
    assert InventorySettings().worker.concurrency == 2
    assert OrdersSettings().worker.concurrency == 7


def test_a_service_keeps_its_own_defaults_for_knobs_nobody_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETRY_MAX", "3")
    email = EmailSettings().retry
    assert (email.max, email.backoff_seconds, email.backoff_max_seconds) == (3, 2.0, 300.0)
    assert OrdersSettings().retry.backoff_max_seconds == 60.0


def test_a_wake_up_port_is_never_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY_WAKE_PORT", "1")
    monkeypatch.setenv("RELAY_BATCH_SIZE", "50")
    orders, inventory = OrdersSettings().relay, InventorySettings().relay
    assert (orders.wake_port, inventory.wake_port) == (47301, 47302)
    assert orders.batch_size == inventory.batch_size == 50


def test_the_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WORKER_POOL=prefork\nORDERS_WORKER_CONCURRENCY=3\nRELAY_BATCH_SIZE=20\n")
    monkeypatch.setenv("ORDERS_WORKER_CONCURRENCY", "5")
    settings = OrdersSettings(_env_file=env_file)
    assert settings.worker.pool == "prefork"
    assert settings.worker.concurrency == 5
    assert settings.relay.batch_size == 20


def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_WORKER_CONCURRENCY", "none")
    with pytest.raises(ValueError, match=r"worker\.concurrency"):
        EmailSettings()
