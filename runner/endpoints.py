"""Where each process of a local run can be reached, read from the same settings they use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pika

from broker.flower import FlowerSettings
from broker.settings import ProvisionSettings
from services.common.topology import MONITOR, user_name
from services.email.settings import Settings as EmailSettings
from services.email.sink.config import SinkSettings
from services.inventory.settings import Settings as InventorySettings
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
        inventory, email = InventorySettings(), EmailSettings()
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
                "orders-api": orders.api_metrics_port,
                "orders-relay": orders.relay.metrics_port,
                "orders-worker": orders.worker.metrics_port,
                "orders-beat": orders.beat_metrics_port,
                "inventory-worker": inventory.worker.metrics_port,
                "inventory-relay": inventory.relay.metrics_port,
                "email-worker": email.worker.metrics_port,
                "smtp-sink": sink.metrics_port,
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
