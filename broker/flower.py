"""Run Flower against the vhost: `python -m broker.flower`.

Flower logs in to RabbitMQ as `<vhost>-flower` (BROKER_FLOWER_PASSWORD), which may read Celery's
task events and ask workers for their state, and nothing else. Its web UI, on
127.0.0.1:FLOWER_PORT, asks for the read-only monitor login (`<vhost>-monitor`,
BROKER_MONITOR_PASSWORD), the same one as the management UI.

Its Broker tab (and `/api/queues/length`) shows every service's Celery task queue,
`<svc>.tasks`, read from the management HTTP API. Two things kept it empty ("No queue data is
available") or showed only some of them:

- Flower called the management API with its broker login, which has no management tag, so
  every call got 401. `--broker_api` hands it the management API with the monitor login, which
  may read exactly that.
- Flower lists the queues of the workers it has heard from (it asks them at its start, and
  again when someone refreshes the Workers page), and the queues its Celery app names only
  while it has heard from none. Under `make up` it starts with the workers, so the queues it
  listed were those of the workers that happened to answer in time: none, some or all, a
  different set at each start. Its app names every service's task queue (from the registry),
  and `list_every_task_queue` makes that list the only one Flower uses.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from celery import Celery
from flower.views import BaseHandler
from kombu import Queue
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.settings import ProvisionSettings
from services.common.settings import ENV_FILE
from services.common.topology import FLOWER, MONITOR, Service, task_queue, user_name


class FlowerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWER_", env_file=ENV_FILE, extra="ignore")

    address: str = Field(default="127.0.0.1", description="Flower's web UI address")
    port: int = Field(default=5555, ge=1, le=65535, description="Flower's web UI port")


def management_api_url(management_url: str, user: str, password: str) -> str:
    """`http://user:password@host:port/api/`, the form `--broker_api` takes (Flower joins
    `queues/<vhost>` to it, so the trailing slash matters)."""
    parts = urlsplit(management_url)
    host = parts.netloc.rpartition("@")[2]  # drop credentials the URL may already carry
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api/", "", ""))


def flower_app(settings: ProvisionSettings) -> Celery:
    """Flower's Celery app: its own broker login, and the task queues it shows."""
    broker = settings.broker
    url = broker.amqp_url(user_name(broker.vhost, FLOWER), settings.flower_password)
    app = Celery("flower", broker=url, set_as_current=False)
    app.conf.task_queues = [Queue(task_queue(service), no_declare=True) for service in Service]
    return app


def every_task_queue(handler: Any) -> list[str]:
    """The queues a Flower page lists: those its Celery app names, whichever workers it knows."""
    return sorted(queue.name for queue in handler.capp.conf.task_queues)


def list_every_task_queue() -> None:
    """Every page of this Flower process lists `every_task_queue` (Flower has no option for it:
    both the Broker tab and /api/queues/length ask `BaseHandler.get_active_queue_names`)."""
    BaseHandler.get_active_queue_names = every_task_queue


def flower_argv(settings: ProvisionSettings, flower: FlowerSettings) -> list[str]:
    broker = settings.broker
    monitor = user_name(broker.vhost, MONITOR)
    monitor_password = settings.monitor_password.get_secret_value()
    return [
        "flower",
        f"--address={flower.address}",
        f"--port={flower.port}",
        f"--basic-auth={monitor}:{monitor_password}",
        f"--broker_api={management_api_url(broker.management_url, monitor, monitor_password)}",
        "--purge_offline_workers=60",
    ]


def main() -> int:
    settings = ProvisionSettings()
    list_every_task_queue()
    return flower_app(settings).start(flower_argv(settings, FlowerSettings())) or 0


if __name__ == "__main__":
    sys.exit(main())
