"""The private RabbitMQ node the destructive scenarios run on, provisioned by the real vhost tool
with the session's test vhost, users and passwords (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.common.settings import BrokerSettings
from tests.reliability.harness import FaultRun, RunConfig
from tests.support.broker import TestBroker
from tests.support.private_rabbit import PrivateRabbit
from tests.support.processes import provision_vhost


@pytest.fixture(scope="session")
def private_rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    node = PrivateRabbit.create(tmp_path_factory.mktemp("private-rabbit"))
    node.start()
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="session")
def fault_broker(private_rabbit: PrivateRabbit, test_broker: TestBroker) -> TestBroker:
    """The test vhost, as on the shared node, but on the private one."""
    provision_vhost(test_broker.vhost, private_rabbit.broker_env())
    settings = BrokerSettings(
        port=private_rabbit.amqp_port, management_url=private_rabbit.management_url
    )
    return TestBroker(
        settings=settings,
        topology=test_broker.topology,
        passwords=test_broker.passwords,
        admin_user=private_rabbit.admin_user,
        admin_password=private_rabbit.admin_password,
    )


@pytest.fixture
def fault_run(
    request: pytest.FixtureRequest,
    private_rabbit: PrivateRabbit,
    fault_broker: TestBroker,
    tmp_path: Path,
) -> Callable[..., FaultRun]:
    config = RunConfig.from_options(request.config)

    def make(scenario: str, fault: str, **kw: Any) -> FaultRun:
        return FaultRun(scenario, fault, private_rabbit, fault_broker, tmp_path, config, **kw)

    return make
