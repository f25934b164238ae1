"""Where each process of a local run can be reached, read from the same settings they use."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika

from broker.flower import FlowerSettings
from broker.settings import ProvisionSettings
from services.common.registry import PROCESSES, Kind, Process, Service
from services.common.settings import settings_class
from services.common.topology import MONITOR, user_name
from services.email.sink.config import SinkSettings
from services.orders.settings import Settings as OrdersSettings

RABBITMQ_METRICS_PORT = 15692  # rabbitmq_prometheus, enabled by broker/ensure-rabbitmq.sh


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    management_url: str
    monitor_user: str
    monitor_password: str
    flower_url: str
    smtp_host: str
    smtp_port: int
    mail_dir: Path
    amqp_host: str
    amqp_port: int
    vhost: str
    metrics_host: str
    metrics_ports: dict[str, int]  # Procfile process -> its /metrics port

    @classmethod
    def from_settings(cls) -> Endpoints:
        provision = ProvisionSettings()
        orders = OrdersSettings()
        sink = SinkSettings()
        flower = FlowerSettings()
        broker = provision.broker
        return cls(
            api_url=f"http://{orders.http_host}:{orders.http_port}",
            management_url=broker.management_url,
            monitor_user=user_name(broker.vhost, MONITOR),
            monitor_password=provision.monitor_password.get_secret_value(),
            flower_url=f"http://{flower.address}:{flower.port}",
            smtp_host=sink.host,
            smtp_port=sink.port,
            mail_dir=sink.dir,
            amqp_host=broker.host,
            amqp_port=broker.port,
            vhost=broker.vhost,
            metrics_host=orders.metrics.host,
            metrics_ports={
                **{p.name: _metrics_port(p, sink) for p in PROCESSES if p.kind is not Kind.TOOL},
                "flower": flower.port,
            },
        )

    @property
    def rabbitmq_metrics_url(self) -> str:
        return f"http://{self.amqp_host}:{RABBITMQ_METRICS_PORT}/metrics"

    def monitor_amqp(self) -> pika.ConnectionParameters:
        return pika.ConnectionParameters(
            host=self.amqp_host,
            port=self.amqp_port,
            virtual_host=self.vhost,
            credentials=pika.PlainCredentials(self.monitor_user, self.monitor_password),
            connection_attempts=1,
        )


@functools.cache
def _settings(service: Service) -> Any:
    """A service's Settings, as its processes read them."""
    return settings_class(service)()


def _metrics_port(process: Process, sink: SinkSettings) -> int:
    """The /metrics port `process` serves on, from the setting each kind reads it from."""
    assert process.service is not None
    if process.kind is Kind.SINK:
        return sink.metrics_port
    settings = _settings(process.service)
    port = {
        Kind.API: lambda: settings.api_metrics_port,
        Kind.BEAT: lambda: settings.beat_metrics_port,
        Kind.RELAY: lambda: settings.relay.metrics_port,
        Kind.WORKER: lambda: settings.worker.metrics_port,
    }[process.kind]()
    return int(port)
