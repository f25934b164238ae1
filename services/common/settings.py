"""Settings shared by every service: where the broker is, and how a service logs in.

Each service has its own typed `Settings` class (`services/<name>/settings.py`) that subclasses
`ServiceSettings` with `env_prefix="<SERVICE>_"`. Secrets have no defaults in code: they come from
the environment or from the `.env` file that `make up` creates from `.env.example`.
"""

from __future__ import annotations

import os
from typing import ClassVar
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.topology import DEFAULT_VHOST, QueueType, Service, user_name

# The test suite points this elsewhere so that a developer's .env never leaks into tests.
ENV_FILE = os.environ.get("SHOPFLOW_ENV_FILE", ".env")


class BrokerSettings(BaseSettings):
    """The RabbitMQ node and vhost. Env: BROKER_HOST, BROKER_PORT, BROKER_VHOST, ..."""

    model_config = SettingsConfigDict(env_prefix="BROKER_", env_file=ENV_FILE, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 5672
    vhost: str = DEFAULT_VHOST
    management_url: str = "http://127.0.0.1:15672"
    heartbeat: int = 30
    connect_timeout: float = 5.0
    queue_type: QueueType = QueueType.CLASSIC  # a queue's type cannot change once it exists

    def amqp_url(self, user: str, password: SecretStr) -> str:
        """An amqp:// URL for kombu/Celery, with user, password and vhost quoted."""
        return (
            f"amqp://{quote(user, safe='')}:{quote(password.get_secret_value(), safe='')}"
            f"@{self.host}:{self.port}/{quote(self.vhost, safe='')}"
        )


def env_prefix(service: Service) -> str:
    """`ORDERS_`, `INVENTORY_`, `EMAIL_`: the prefix of every variable a service reads."""
    return f"{service.value.upper()}_"


def service_config(service: Service) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=env_prefix(service), env_file=ENV_FILE, extra="ignore")


class ServiceSettings(BaseSettings):
    """What every service's Settings has: the broker and the service's own broker password.

    The login is `<vhost>-<service>` (see `topology.user_name`); the password is read from
    `<SERVICE>_BROKER_PASSWORD`.
    """

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")
    service: ClassVar[Service]

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    broker_password: SecretStr

    @classmethod
    def password_of(cls, service: Service) -> SecretStr:
        """Read one service's password without building its whole Settings (the vhost tool)."""
        return cls(_env_prefix=env_prefix(service)).broker_password

    @property
    def broker_user(self) -> str:
        return user_name(self.broker.vhost, self.service)

    @property
    def broker_url(self) -> str:
        return self.broker.amqp_url(self.broker_user, self.broker_password)
