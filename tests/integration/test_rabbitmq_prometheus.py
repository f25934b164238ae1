"""RabbitMQ's own metrics, as Prometheus and the dashboard read them (docs/observability.md).

The shared node is never reconfigured by a test, so this starts a node of its own with the
`rabbitmq_prometheus` plugin (the one `broker/ensure-rabbitmq.sh` enables on port 15692), declares
a queue and its DLQ with messages in them, and reads the per-queue series the dashboard queries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pika
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from broker.local_node import LocalNode, NodePorts
from tests.support.polling import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The query the Prometheus scrape config asks for: per-queue depths of every vhost.
DETAILED = "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    ports = NodePorts(
        amqp=free_port(), management=free_port(), dist=free_port(), prometheus=free_port()
    )
    home = tmp_path_factory.mktemp("prometheus-node")
    local = LocalNode(name=f"shopflow-prom-{os.getpid()}@localhost", home=home, ports=ports)
    local.start()
    try:
        local.wait_started()
        yield local
    finally:
        local.stop()


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(url, timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_per_queue_depths_are_served_for_the_dashboard(node: LocalNode) -> None:
    params = pika.ConnectionParameters("127.0.0.1", node.ports.amqp, connection_attempts=3)
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        for queue, count in (("inventory.orders", 2), ("inventory.orders.dlq", 1)):
            channel.queue_declare(queue, durable=True)
            for _ in range(count):
                channel.basic_publish("", queue, b"{}")
    base = f"http://127.0.0.1:{node.ports.prometheus}"
    ready = "rabbitmq_detailed_queue_messages_ready"

    def depths() -> dict[str, float] | None:
        samples = _samples(base + DETAILED)
        found = {
            dict(labels)["queue"]: value
            for (name, labels), value in samples.items()
            if name == ready
        }
        wanted = {"inventory.orders": 2.0, "inventory.orders.dlq": 1.0}
        return found if all(found.get(q) == n for q, n in wanted.items()) else None

    wait_until(depths, timeout=60, message="per-queue depths on /metrics/detailed")
    served = {name for name, _ in _samples(base + DETAILED)}
    served |= {name for name, _ in _samples(base + "/metrics")}
    assert {"rabbitmq_queue_messages_ready", "rabbitmq_connections"} <= served
    dashboard = (ROOT / "deploy" / "grafana" / "dashboards" / "shopflow.json").read_text()
    used = set(re.findall(r"\b(rabbitmq_[a-z_]+)", dashboard))
    assert used, "the dashboard shows no queue depth"
    assert used - served == set(), "the dashboard queries series RabbitMQ does not serve"


def test_the_scrape_config_asks_for_those_families() -> None:
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [queues] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "rabbitmq-queues"]
    assert (
        queues["metrics_path"] + "?" + "&".join(f"family={f}" for f in queues["params"]["family"])
        == DETAILED
    )
