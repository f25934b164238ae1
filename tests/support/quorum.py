"""A second throwaway vhost, of quorum queues, on the machine's shared node.

The session's vhost (`test_broker`) has the queue type of the environment (classic by default).
Tests of what quorum queues change (their policies, Celery's prefetch, retries, what RabbitMQ 4
denies) get a vhost of their own, provisioned by the real vhost tool with
`QueueType.QUORUM`, with the session's passwords, and deleted with its users afterwards. On one
node a quorum queue has one replica: everything but replication behaves as on a cluster.

Processes started for it need `QuorumVhost.env` (BROKER_VHOST, BROKER_QUEUE_TYPE).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from broker.provision import run as provision
from services.common import topology
from services.common.settings import BrokerSettings
from tests.support.broker import TestBroker


@dataclass(frozen=True)
class QuorumVhost:
    broker: TestBroker

    @property
    def env(self) -> dict[str, str]:
        return {"BROKER_VHOST": self.broker.vhost, "BROKER_QUEUE_TYPE": "quorum"}


@contextmanager
def provisioned_vhost(
    session: TestBroker, queue_type: topology.QueueType, prefix: str
) -> Iterator[TestBroker]:
    """A fresh vhost `<prefix>-<random>` with the session's logins, provisioned as
    `queue_type`; deleted, with its users, at the end."""
    vhost = f"{prefix}-{secrets.token_hex(4)}"
    lines: list[str] = []
    assert provision("apply", vhost, out=lines.append, queue_type=queue_type) == 0, lines
    renamed = {
        topology.user_name(vhost, user.removeprefix(f"{session.vhost}-")): password
        for user, password in session.passwords.items()
    }
    broker = TestBroker(
        settings=BrokerSettings(vhost=vhost, queue_type=queue_type),
        topology=topology.build(vhost, queue_type),
        passwords=renamed,
        admin_user=session.admin_user,
        admin_password=session.admin_password,
    )
    try:
        yield broker
    finally:
        with broker.management() as api:
            api.delete_vhost(vhost)
            for user in renamed:
                api.delete_user(user)


@pytest.fixture(scope="module")
def quorum_vhost(test_broker: TestBroker) -> Iterator[QuorumVhost]:
    with provisioned_vhost(test_broker, topology.QueueType.QUORUM, "test-quorum") as broker:
        yield QuorumVhost(broker)
