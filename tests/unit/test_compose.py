"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it
parses, runs every Procfile process with the Procfile's own command, provisions the broker with
the same vhost tool as a local run, and gates start-up on healthchecks. Its `cluster` profile and
docker-compose.cluster.yml: three RabbitMQ 4 nodes formed by peer discovery, and every client
listing all of them, on quorum queues."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from honcho.environ import parse_procfile

from services.common.settings import BrokerSettings
from tests.support.compose import load_compose, merge_compose

ROOT = Path(__file__).resolve().parents[2]
# Procfile entries that compose replaces with something better suited to containers.
REPLACED_IN_COMPOSE = {"smtp-sink": "mailpit"}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _procfile() -> dict[str, str]:
    return dict(parse_procfile((ROOT / "Procfile").read_text()).processes)


def test_every_procfile_process_runs_in_compose_with_the_same_command() -> None:
    services = _compose()["services"]
    for name, command in _procfile().items():
        if name in REPLACED_IN_COMPOSE:
            assert REPLACED_IN_COMPOSE[name] in services
            continue
        assert name in services, f"compose has no service for Procfile entry {name!r}"
        assert services[name]["command"] == command, name


def test_provisioning_is_the_vhost_tool() -> None:
    services = _compose()["services"]
    assert services["provision"]["command"] == "python -m broker.provision apply"
    assert "python -m broker.provision apply" in (ROOT / "Makefile").read_text()
    assert services["provision"]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["rabbitmq", "postgres", "mailpit", "orders-api"])
def test_healthchecks(name: str) -> None:
    assert _compose()["services"][name]["healthcheck"]["test"]


def test_python_services_wait_for_setup() -> None:
    services = _compose()["services"]
    for name in _procfile():
        if name in REPLACED_IN_COMPOSE:
            continue
        deps = services[name]["depends_on"]
        assert deps["provision"]["condition"] == "service_completed_successfully", name
        assert deps["databases"]["condition"] == "service_completed_successfully", name


def test_rabbitmq_is_4_management() -> None:
    assert _compose()["services"]["rabbitmq"]["image"] == "rabbitmq:4-management"


def test_dockerfile_runs_as_non_root_and_bakes_no_secret() -> None:
    text = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert users, "no USER line"
    assert users[-1] not in {"root", "0"}
    settings_lines = re.findall(r"^(?:ENV|ARG)\s.*(?:\n\s+.*)*", text, flags=re.M)
    assert settings_lines
    assert not any(re.search(r"PASSWORD|SECRET", line, flags=re.I) for line in settings_lines)
    for line in re.findall(r"^COPY\s+(\S+)", text, flags=re.M):
        assert (ROOT / line).exists(), f"Dockerfile copies a missing path {line}"


# -- the `cluster` profile and docker-compose.cluster.yml --------------------------------------


def _cluster_system() -> dict[str, Any]:
    """The services `--profile cluster` starts from the two files merged."""
    merged = merge_compose(
        load_compose("docker-compose.yml"), load_compose("docker-compose.cluster.yml")
    )
    services: dict[str, Any] = merged["services"]
    return {
        name: svc
        for name, svc in services.items()
        if not svc.get("profiles") or "cluster" in svc["profiles"]
    }


def _cluster_nodes() -> dict[str, Any]:
    services = load_compose("docker-compose.yml")["services"]
    return {name: svc for name, svc in services.items() if svc.get("profiles") == ["cluster"]}


def test_both_compose_files_parse() -> None:
    assert load_compose("docker-compose.yml")["services"]
    assert load_compose("docker-compose.cluster.yml")["services"]


def test_the_cluster_profile_is_three_rabbitmq_4_nodes_formed_by_peer_discovery() -> None:
    nodes = _cluster_nodes()
    assert sorted(nodes) == ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"]
    conf = (ROOT / "deploy" / "rabbitmq-cluster.conf").read_text()
    assert "cluster_formation.peer_discovery_backend = classic_config" in conf
    listed = set(re.findall(r"^cluster_formation\.classic_config\.nodes\.\d+ = (\S+)$", conf, re.M))
    assert listed == {f"rabbit@{svc['hostname']}" for svc in nodes.values()}
    for svc in nodes.values():
        assert svc["image"] == "rabbitmq:4-management"
        assert svc["healthcheck"]["test"]
        assert (
            "./deploy/rabbitmq-cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro"
            in (svc["volumes"])
        )
        assert "/var/lib/rabbitmq/.erlang.cookie" in svc["entrypoint"][-1]
    assert len({svc["environment"]["ERLANG_COOKIE"] for svc in nodes.values()}) == 1
    assert len({svc["volumes"][0] for svc in nodes.values()}) == 3  # each node its own data
    # without the profile, compose runs what it always ran
    default = [
        n
        for n, s in load_compose("docker-compose.yml")["services"].items()
        if not s.get("profiles")
    ]
    assert "rabbitmq" in default
    assert not set(nodes) & set(default)


def test_on_the_cluster_every_client_lists_every_node_and_queues_are_quorum() -> None:
    system = _cluster_system()
    assert "rabbitmq" not in system  # the single node stays down
    hostnames = {svc["hostname"] for name, svc in system.items() if name in _cluster_nodes()}
    assert len(hostnames) == 3
    clients = {name: svc for name, svc in system.items() if svc.get("image") == "shopflow:dev"}
    assert set(_procfile()) - set(REPLACED_IN_COMPOSE) <= set(clients)
    for name, svc in clients.items():
        env = svc["environment"]
        broker = BrokerSettings(nodes=env["BROKER_NODES"], _env_file=None)
        assert {host for host, _ in broker.addresses} == hostnames, name
        assert {port for _, port in broker.addresses} == {5672}, name
        assert env["BROKER_QUEUE_TYPE"] == "quorum", name
        assert urlsplit(env["BROKER_MANAGEMENT_URL"]).hostname in hostnames, name


def test_on_the_cluster_nothing_waits_for_a_service_that_is_not_started() -> None:
    system = _cluster_system()
    for name, svc in system.items():
        assert set(svc.get("depends_on", {})) <= set(system), name
    waits = system["provision"]["depends_on"]
    assert {n: c["condition"] for n, c in waits.items()} == dict.fromkeys(
        _cluster_nodes(), "service_healthy"
    )
