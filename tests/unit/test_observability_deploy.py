"""The compose side of observability, checked without Docker: Prometheus scrapes every process at
the port its settings default to, Grafana's dashboard queries only series the code exports, and
compose turns tracing on with the standard variables and serves the viewers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from honcho.environ import parse_procfile
from prometheus_client import Counter, Gauge, Histogram

import services.common.observability.metrics as metrics
from services.common.registry import PROCESSES, Kind
from services.common.settings import settings_class
from services.email.sink.config import SinkSettings

ROOT = Path(__file__).resolve().parents[2]
NOT_IN_COMPOSE = {"smtp-sink"}  # compose runs Mailpit instead
FLOWER = "flower"  # serves its own /metrics on its web port


def default_metrics_ports() -> dict[str, int]:
    """Each process's /metrics port, as its settings' defaults say (the registry's numbers)."""
    ports = {}
    for process in PROCESSES:
        if process.kind is Kind.TOOL:
            continue
        assert process.service is not None
        fields = settings_class(process.service).model_fields
        if process.kind is Kind.SINK:
            fields = SinkSettings.model_fields
        field, nested = {
            Kind.API: ("api_metrics_port", False),
            Kind.BEAT: ("beat_metrics_port", False),
            Kind.RELAY: ("relay", True),
            Kind.WORKER: ("worker", True),
            Kind.SINK: ("metrics_port", False),
        }[process.kind]
        default = fields[field].default
        ports[process.name] = default.metrics_port if nested else default
    return ports


def _yaml(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def test_every_process_has_a_port_of_its_own() -> None:
    ports = default_metrics_ports()
    assert set(ports) | {FLOWER} == set(parse_procfile((ROOT / "Procfile").read_text()).processes)
    assert len(set(ports.values())) == len(ports)


def test_prometheus_scrapes_every_process_at_its_port() -> None:
    jobs = {
        job["job_name"]: job for job in _yaml("deploy/prometheus/prometheus.yml")["scrape_configs"]
    }
    targets = {t for c in jobs["shopflow"]["static_configs"] for t in c["targets"]}
    wanted = {
        f"{name}:{port}"
        for name, port in default_metrics_ports().items()
        if name not in NOT_IN_COMPOSE
    }
    assert targets == wanted
    assert jobs["flower"]["static_configs"][0]["targets"] == ["flower:5555"]
    assert jobs["rabbitmq"]["static_configs"][0]["targets"] == ["rabbitmq:15692"]


def test_the_dashboard_queries_only_exported_series() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/shopflow.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for e in exprs for name in re.findall(r"\b(shopflow_[a-z_]+)", e)}
    exported = {
        sample
        for collector in vars(metrics).values()
        if isinstance(collector, Counter | Gauge | Histogram)
        for family in collector.describe()
        for sample in _series(family.name, family.type)
    }
    exported |= {metrics.OUTBOX_BACKLOG, metrics.OUTBOX_OLDEST_AGE}
    assert used, "the dashboard queries nothing"
    assert used - exported == set()
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for shown in ("orders", "errors", "duration", "queue depths", "dlq", "outbox"):
        assert shown in titles, shown


def _series(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}


def test_grafana_is_provisioned_from_the_repository() -> None:
    compose = _yaml("docker-compose.yml")["services"]
    mounts = [v.split(":")[0] for v in compose["grafana"]["volumes"]]
    assert mounts == ["./deploy/grafana/provisioning", "./deploy/grafana/dashboards"]
    for mount in mounts:
        assert (ROOT / mount).is_dir()
    provider = _yaml("deploy/grafana/provisioning/dashboards/shopflow.yml")["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    source = _yaml("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    assert source["url"] == "http://prometheus:9090"


def test_compose_traces_with_the_standard_variables_and_serves_the_viewers() -> None:
    compose = _yaml("docker-compose.yml")
    env = compose["x-python"]["environment"]
    assert env["OTEL_TRACES_EXPORTER"] == "otlp"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert env["METRICS_HOST"] == "0.0.0.0"
    services = compose["services"]
    assert "16686:16686" in services["jaeger"]["ports"]
    assert "15692:15692" in services["rabbitmq"]["ports"]
    plugins = (ROOT / "deploy/rabbitmq/enabled_plugins").read_text()
    assert "rabbitmq_prometheus" in plugins
    assert "rabbitmq_prometheus" in (ROOT / "broker/ensure-rabbitmq.sh").read_text()
