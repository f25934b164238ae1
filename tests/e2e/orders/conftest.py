from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.broker import TestBroker
from tests.support.orders import orders_db_url, orders_pg_url
from tests.support.ports import free_port
from tests.support.processes import PYTHON, ServiceProcess

__all__ = ["orders_db_url", "orders_pg_url"]

RelayFactory = Callable[..., ServiceProcess]


@pytest.fixture
def orders_env(orders_db_url: str, test_broker: TestBroker) -> dict[str, str]:
    """What every orders process of one test shares: its DB, its wake-up port, quick tuning."""
    return {
        "ORDERS_DATABASE_URL": orders_db_url,
        "ORDERS_RELAY_WAKE_PORT": str(free_port(socket.SOCK_DGRAM)),
        "ORDERS_RELAY_POLL_INTERVAL": "0.5",
        "ORDERS_RELAY_LEASE_TTL": "3",
        "ORDERS_RELAY_BACKOFF_MAX": "1",
        "BROKER_CONNECT_TIMEOUT": "2",
    }


@pytest.fixture
def make_relay(orders_env: dict[str, str], tmp_path: Path) -> Iterator[RelayFactory]:
    """Build relay processes (not started); every one of them is stopped after the test."""
    made: list[ServiceProcess] = []

    def factory(name: str = "relay", **env: str) -> ServiceProcess:
        proc = ServiceProcess(
            name, [PYTHON, "-m", "services.orders.relay"], tmp_path, env={**orders_env, **env}
        )
        made.append(proc)
        return proc

    yield factory
    for proc in made:
        proc.stop()


def start_api(orders_env: dict[str, str], log_dir: Path, **env: str) -> tuple[ServiceProcess, str]:
    port = free_port()
    api = ServiceProcess(
        "api",
        [
            PYTHON,
            "-m",
            "uvicorn",
            "--factory",
            "services.orders.api:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--timeout-graceful-shutdown",
            "2",  # as `python -m services.orders.api` does: event streams never end by themselves
        ],
        log_dir,
        env={**orders_env, **env},
    )
    api.start()
    # uvicorn binds its socket after the application's startup: a request sent on "Application
    # startup complete" can still be refused on a loaded machine.
    api.wait_for_log(r"Uvicorn running on", timeout=60)
    return api, f"http://127.0.0.1:{port}"


@pytest.fixture
def api(orders_env: dict[str, str], tmp_path: Path) -> Iterator[httpx.Client]:
    """The API as a uvicorn subprocess, and an HTTP client for it."""
    proc, url = start_api(orders_env, tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        proc.stop()
