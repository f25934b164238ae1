"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: it
parses, runs every Procfile process with the Procfile's own command, provisions the broker with
the same vhost tool as a local run, and gates start-up on healthchecks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from honcho.environ import parse_procfile

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
