"""BROKER_NODES: one setting lists a cluster's nodes, and every client gets all of them (kombu's
failover URL for Celery and Flower, a list of pika parameters for the relays and the API's
readiness check). Unset, everything is as it was: one node at BROKER_HOST:BROKER_PORT."""

from __future__ import annotations

import pytest
from kombu import Connection
from pydantic import SecretStr, ValidationError

from broker.flower import flower_app
from broker.settings import ProvisionSettings
from services.common.outbox.pika_publisher import connection_parameters
from services.common.settings import BrokerSettings
from services.common.worker.app import create_worker_app
from services.inventory.settings import Settings as InventorySettings

NODES = "10.0.0.1:5681, 10.0.0.2:5682,10.0.0.3:5683"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BROKER_NODES", "BROKER_HOST", "BROKER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BROKER_VHOST", "shop")
    monkeypatch.setenv("INVENTORY_BROKER_PASSWORD", "p@ss")


def test_unset_it_is_the_one_node_of_broker_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_HOST", "rabbit.local")
    settings = BrokerSettings()
    assert settings.addresses == [("rabbit.local", 5672)]
    assert settings.amqp_url("u", SecretStr("p")) == "amqp://u:p@rabbit.local:5672/shop"
    assert settings.amqp_urls("u", SecretStr("p")) == ["amqp://u:p@rabbit.local:5672/shop"]


def test_every_node_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_NODES", NODES)
    monkeypatch.setenv("BROKER_HOST", "ignored")
    settings = BrokerSettings()
    assert settings.addresses == [("10.0.0.1", 5681), ("10.0.0.2", 5682), ("10.0.0.3", 5683)]
    # tools that talk to one node (the scenario's poison, the DLQ tool) use the first
    assert (settings.host, settings.port) == ("10.0.0.1", 5681)


@pytest.mark.parametrize("value", ["a", "a:", "a:x", ":5672", "a:70000"])
def test_a_bad_node_names_the_setting(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_NODES", f"ok:5672,{value}")
    with pytest.raises(ValidationError) as caught:
        BrokerSettings()
    assert caught.value.errors()[0]["loc"] == ("nodes",)
    assert repr(value) in str(caught.value)


def test_celery_gets_every_node_as_a_failover_alternate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_NODES", NODES)
    settings = InventorySettings()
    app = create_worker_app(settings.service, settings)
    connection: Connection = app.connection_for_write()
    assert [(Connection(url).hostname, Connection(url).port) for url in connection.alt] == (
        BrokerSettings().addresses
    )
    assert {Connection(url).userid for url in connection.alt} == {"shop-inventory"}
    assert {Connection(url).password for url in connection.alt} == {"p@ss"}


def test_pika_gets_one_parameter_set_per_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_NODES", NODES)
    params = connection_parameters(InventorySettings().broker_urls, timeout=2.0)
    assert [(p.host, p.port, p.virtual_host) for p in params] == [
        ("10.0.0.1", 5681, "shop"),
        ("10.0.0.2", 5682, "shop"),
        ("10.0.0.3", 5683, "shop"),
    ]
    # one attempt per node, each failing fast: pika moves on to the next node
    assert {(p.connection_attempts, p.socket_timeout) for p in params} == {(1, 2.0)}
    assert {p.credentials.username for p in params} == {"shop-inventory"}


def test_flower_gets_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_NODES", NODES)
    monkeypatch.setenv("BROKER_MONITOR_PASSWORD", "m")
    monkeypatch.setenv("BROKER_FLOWER_PASSWORD", "f")
    url = flower_app(ProvisionSettings()).conf.broker_url
    assert len(Connection(url).alt) == 3
