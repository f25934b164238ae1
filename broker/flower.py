"""Run Flower against the vhost: `python -m broker.flower`.

Flower logs in to RabbitMQ as `<vhost>-flower` (BROKER_FLOWER_PASSWORD), which may read Celery's
task events and ask workers for their state, and nothing else. Its web UI, on
127.0.0.1:FLOWER_PORT, asks for the read-only monitor login (`<vhost>-monitor`,
BROKER_MONITOR_PASSWORD), the same one as the management UI.
"""

from __future__ import annotations

import sys

from celery.bin.celery import main as celery_main
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.settings import ProvisionSettings
from services.common.settings import ENV_FILE
from services.common.topology import FLOWER, MONITOR, user_name


class FlowerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWER_", env_file=ENV_FILE, extra="ignore")

    address: str = Field(default="127.0.0.1", description="Flower's web UI address")
    port: int = Field(default=5555, ge=1, le=65535, description="Flower's web UI port")


def flower_argv(settings: ProvisionSettings, flower: FlowerSettings) -> list[str]:
    broker = settings.broker
    url = broker.amqp_url(user_name(broker.vhost, FLOWER), settings.flower_password)
    monitor = user_name(broker.vhost, MONITOR)
    return [
        "celery",
        f"--broker={url}",
        "flower",
        f"--address={flower.address}",
        f"--port={flower.port}",
        f"--basic-auth={monitor}:{settings.monitor_password.get_secret_value()}",
        "--purge_offline_workers=60",
    ]


def main() -> None:
    sys.argv = flower_argv(ProvisionSettings(), FlowerSettings())
    celery_main()


if __name__ == "__main__":
    main()
