"""Test-session wiring.

Every test session gets its own throwaway vhost (`test-<random>`) with its own users and random
passwords, provisioned by the real vhost tool and deleted at the end, so tests never touch the
developer's `shop` vhost. The variables are set at import time, before any Settings is built,
and are inherited by the worker subprocesses the tests start. Nothing connects at import time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.topology import FLOWER, MONITOR, REPLAY, STOREFRONT, Service, user_name

TEST_VHOST = f"test-{secrets.token_hex(5)}"
_PASSWORDS = {
    who: secrets.token_urlsafe(16) for who in [*Service, MONITOR, FLOWER, STOREFRONT, REPLAY]
}
OPERATOR_TOKEN = secrets.token_urlsafe(24)

os.environ["SHOPFLOW_ENV_FILE"] = "/nonexistent/shopflow-tests.env"
os.environ["BROKER_VHOST"] = TEST_VHOST
os.environ["BROKER_MONITOR_PASSWORD"] = _PASSWORDS[MONITOR]
os.environ["BROKER_FLOWER_PASSWORD"] = _PASSWORDS[FLOWER]
os.environ["BROKER_REPLAY_PASSWORD"] = _PASSWORDS[REPLAY]
for _svc in Service:
    os.environ[f"{_svc.value.upper()}_BROKER_PASSWORD"] = _PASSWORDS[_svc]
os.environ["ORDERS_STOREFRONT_BROKER_PASSWORD"] = _PASSWORDS[STOREFRONT]
os.environ["ORDERS_OPERATOR_TOKEN"] = OPERATOR_TOKEN
# The suites place hundreds of orders a second from one address, far past what the per-client
# limit allows a customer; the limiter's own tests set a low limit explicitly.
os.environ["ORDERS_PLACE_RATE_LIMIT"] = "1000000/minute"

from broker.provision import run as provision  # noqa: E402  (after the environment is set)
from services.common import topology  # noqa: E402
from services.common.settings import BrokerSettings  # noqa: E402
from tests.support.broker import TestBroker  # noqa: E402

_DIRS = {
    "unit": None,
    "integration": "integration",
    "e2e": "e2e",
    "reliability": "reliability",
    "browser": "browser",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability", "the fault-injection suite (tests/reliability)")
    group.addoption(
        "--orders",
        type=int,
        default=40,
        help="orders per reliability scenario (default 40; docs/reliability.md uses 2000)",
    )
    group.addoption("--reliability-seed", type=int, default=20261122, help="order mix seed")
    group.addoption(
        "--reliability-report",
        type=Path,
        default=None,
        help="append each scenario's books as a JSON line to this file",
    )


# The folders whose files take minutes go first: `--dist loadfile` hands files out in this order,
# so the short ones fill the gaps at the end instead of one long file running alone.
_SLOW_FIRST = ("reliability", "docs", "browser", "e2e", "integration", "unit")


def _rank(item: pytest.Item) -> int:
    parts = Path(str(item.fspath)).parts
    return next((i for i, folder in enumerate(_SLOW_FIRST) if folder in parts), len(_SLOW_FIRST))


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which this keeps within a folder
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in _DIRS.items():
            if folder in parts and marker:
                item.add_marker(getattr(pytest.mark, marker))
    items.sort(key=_rank)


@pytest.fixture(scope="session")
def test_broker() -> Iterator[TestBroker]:
    """The provisioned throwaway vhost. Deleted (with its users) after the session."""
    lines: list[str] = []
    code = provision("apply", TEST_VHOST, out=lines.append)
    assert code == 0, "provisioning the test vhost failed:\n" + "\n".join(lines)
    admin_user = os.environ.get("BROKER_ADMIN_USER", "guest")
    admin_password = os.environ.get("BROKER_ADMIN_PASSWORD", "guest")
    passwords = {user_name(TEST_VHOST, who): pw for who, pw in _PASSWORDS.items()}
    settings = BrokerSettings()
    tb = TestBroker(
        settings=settings,
        topology=topology.build(TEST_VHOST, settings.queue_type),
        passwords=passwords,
        admin_user=admin_user,
        admin_password=admin_password,
    )
    yield tb
    with tb.management() as api:
        api.delete_vhost(TEST_VHOST)
        for user in tb.passwords:
            api.delete_user(user)


@pytest.fixture
def broker(test_broker: TestBroker) -> TestBroker:
    """The test vhost with every queue empty at the start of the test."""
    test_broker.purge_all()
    return test_broker
