"""Settings of the vhost tool: the admin login it provisions with, the passwords it sets and the
event logs' retention; and the replay tool's login."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import (
    ENV_FILE,
    BrokerSettings,
    EventLogSettings,
    ServiceSettings,
    service_config,
)
from services.common.topology import FLOWER, REPLAY, STOREFRONT, Service, UserSpec


class AdminLogin(BaseSettings):
    """Env: BROKER_ADMIN_USER / BROKER_ADMIN_PASSWORD: an administrator that already exists
    (`guest` on a local dev broker, RABBITMQ_DEFAULT_USER in compose; the local cluster tool
    creates it on its nodes)."""

    model_config = SettingsConfigDict(env_prefix="BROKER_", env_file=ENV_FILE, extra="ignore")

    admin_user: str = Field(
        default="guest", description="an existing administrator the vhost tool logs in as"
    )
    admin_password: SecretStr = Field(
        default=SecretStr("guest"), description="its password (guest works from localhost only)"
    )


class ReplayLogin(BaseSettings):
    """BROKER_REPLAY_PASSWORD: the login `<vhost>-replay` that `python -m broker.replay` uses
    (docs/event-log.md), and the broker. The vhost tool sets that password."""

    model_config = SettingsConfigDict(env_prefix="BROKER_", env_file=ENV_FILE, extra="ignore")

    replay_password: SecretStr = Field(
        description="password of `<vhost>-replay`, the event log's replay tool"
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


class StorefrontPassword(BaseSettings):
    """ORDERS_STOREFRONT_BROKER_PASSWORD alone: the variable the orders API reads for its live
    updates' login (`storefront_broker_password` of its Settings), read here without the rest
    of the orders settings. The vhost tool knows no service's code, only the registry's names."""

    model_config = service_config(Service.ORDERS)

    storefront_broker_password: SecretStr


class ProvisionSettings(AdminLogin):
    """The admin login, plus BROKER_MONITOR_PASSWORD (the read-only login for the management
    UI), BROKER_FLOWER_PASSWORD (Flower's broker login). Service passwords are read from
    `<SERVICE>_BROKER_PASSWORD`, the orders API's live-updates login from
    ORDERS_STOREFRONT_BROKER_PASSWORD (the same variables the services read), and the replay
    login's from BROKER_REPLAY_PASSWORD (`ReplayLogin`, the same the replay tool reads). The event
    logs' retention comes from EVENT_LOG_*."""

    monitor_password: SecretStr = Field(
        description="password of `<vhost>-monitor`, the read-only login for people"
    )
    flower_password: SecretStr = Field(description="password of `<vhost>-flower`, Flower's login")
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    event_log: EventLogSettings = Field(default_factory=EventLogSettings)

    def password_of(self, user: UserSpec) -> SecretStr:
        if user.service is not None:
            return ServiceSettings.password_of(user.service)
        if user.role == FLOWER:
            return self.flower_password
        if user.role == STOREFRONT:
            return StorefrontPassword().storefront_broker_password
        if user.role == REPLAY:
            return ReplayLogin().replay_password
        return self.monitor_password
