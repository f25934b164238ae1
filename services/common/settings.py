"""Settings shared by every service: where the broker is, how a service logs in, and the knobs
every service has.

Each service has its own typed `Settings` class (`services/<name>/settings.py`) that subclasses
`ServiceSettings` with `env_prefix="<SERVICE>_"`. Secrets have no defaults in code: they come from
the environment or from the `.env` file that `make up` creates from `.env.example`.

A *knob group* (`Knobs`: logging, metrics, worker tuning, retries, the relay) is defined once and
read from shared variables, `LOG_LEVEL` or `WORKER_CONCURRENCY`, which every service honours; a
service's own `<SERVICE>_WORKER_CONCURRENCY` overrides the shared one for that service only. A
service may also give a group defaults of its own (email retries longer than the others).
docs/configuration.md lists every setting with its default.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.common.topology import DEFAULT_VHOST, LogRetention, QueueType, Service, user_name

# The test suite points this elsewhere so that a developer's .env never leaks into tests.
ENV_FILE = os.environ.get("SHOPFLOW_ENV_FILE", ".env")


class BrokerSettings(BaseSettings):
    """The RabbitMQ node(s) and vhost. Env: BROKER_HOST, BROKER_PORT, BROKER_NODES, ...

    One node is named by BROKER_HOST and BROKER_PORT. A cluster's nodes are listed, all of them,
    in BROKER_NODES (`host:port,host:port,...`): every client then knows every node, connects to
    the first that answers, and on losing it reconnects to another instead of waiting for it.
    BROKER_HOST and BROKER_PORT are then the first node's (tools that talk to one node use it).
    """

    model_config = SettingsConfigDict(env_prefix="BROKER_", env_file=ENV_FILE, extra="ignore")

    host: str = Field(
        default="127.0.0.1", description="RabbitMQ's address (the first of BROKER_NODES if set)"
    )
    port: int = Field(
        default=5672, description="RabbitMQ's AMQP port (the first of BROKER_NODES if set)"
    )
    nodes: str = Field(
        default="",
        description="every node of a cluster, host:port,host:port,...; "
        "empty: the one node at BROKER_HOST:BROKER_PORT",
    )
    vhost: str = Field(default=DEFAULT_VHOST, description="the vhost every service works in")
    management_url: str = Field(
        default="http://127.0.0.1:15672", description="the management HTTP API (vhost tool)"
    )
    queue_type: QueueType = Field(
        default=QueueType.CLASSIC,
        description="classic or quorum: the type of every queue the vhost tool declares",
    )
    heartbeat: int = Field(default=30, description="AMQP heartbeat, seconds")
    connect_timeout: float = Field(default=5.0, description="seconds to wait for a connection")

    @field_validator("nodes")
    @classmethod
    def _nodes_are_host_port(cls, value: str) -> str:
        _parse_nodes(value)
        return value

    @model_validator(mode="after")
    def _first_node_is_host_and_port(self) -> BrokerSettings:
        nodes = _parse_nodes(self.nodes)
        if nodes:
            self.host, self.port = nodes[0]
        return self

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every node as (host, port), in the order clients try them."""
        return _parse_nodes(self.nodes) or [(self.host, self.port)]

    def amqp_urls(self, user: str, password: SecretStr) -> list[str]:
        """One amqp:// URL per node, with user, password and vhost quoted: pika tries them in
        turn (`pika.BlockingConnection([...])`)."""
        credentials = f"{quote(user, safe='')}:{quote(password.get_secret_value(), safe='')}"
        vhost = quote(self.vhost, safe="")
        return [f"amqp://{credentials}@{host}:{port}/{vhost}" for host, port in self.addresses]

    def amqp_url(self, user: str, password: SecretStr) -> str:
        """The URL for kombu/Celery: with several nodes, their URLs joined by `;`, which kombu
        reads as failover alternates (Celery's `broker_failover_strategy`, round-robin)."""
        return ";".join(self.amqp_urls(user, password))


class EventLogSettings(BaseSettings):
    """How long the event logs keep events (docs/event-log.md). Env: EVENT_LOG_MAX_AGE_DAYS,
    EVENT_LOG_MAX_BYTES. The vhost tool puts them in each log's policy; `apply` changes a running
    log's retention in place."""

    model_config = SettingsConfigDict(env_prefix="EVENT_LOG_", env_file=ENV_FILE, extra="ignore")

    max_age_days: float = Field(
        default=LogRetention().max_age_days,
        ge=0,
        description="each event log keeps events this many days (whole segments; 0: no age "
        "limit); a service that joins later can catch up this far back",
    )
    max_bytes: int = Field(
        default=LogRetention().max_bytes,
        ge=0,
        description="and at most this many bytes per log, the oldest segments going first "
        "(0: no size limit)",
    )

    @property
    def retention(self) -> LogRetention:
        return LogRetention(max_age_days=self.max_age_days, max_bytes=self.max_bytes)


def _parse_nodes(value: str) -> list[tuple[str, int]]:
    nodes = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        host, _, port = entry.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{entry!r} is not host:port (nodes are separated by commas)")
        nodes.append((host, int(port)))
    return nodes


class Knobs(BaseModel):
    """A group of settings that every service reads from `<PREFIX><NAME>`, overridden by
    `<SERVICE>_<PREFIX><NAME>`. Names in `per_service` are read from the service's own variable
    only (a UDP port two relays cannot share, say)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    prefix: ClassVar[str]
    per_service: ClassVar[frozenset[str]] = frozenset()


class LogSettings(Knobs):
    prefix: ClassVar[str] = "LOG_"

    level: str = Field(default="INFO", description="Python log level of every process")
    format: Literal["text", "json"] = Field(
        default="text",
        description="text: readable lines; json: one JSON object per line (docs/observability.md)",
    )


class MetricsSettings(Knobs):
    """Where every process serves its Prometheus metrics. The port is per process kind, next to
    that kind's other settings (`ORDERS_WORKER_METRICS_PORT`, `ORDERS_RELAY_METRICS_PORT`...)."""

    prefix: ClassVar[str] = "METRICS_"

    host: str = Field(
        default="127.0.0.1", description="address of every process's /metrics (compose: 0.0.0.0)"
    )


class RetentionSettings(Knobs):
    """How long the rows kept only to make repeats harmless are kept (docs/operations.md,
    "Retention"): the relay prunes its outbox, each worker its inbox."""

    prefix: ClassVar[str] = "RETENTION_"

    outbox_days: float = Field(
        default=7.0,
        ge=0,
        description="published outbox rows are deleted this many days after their publish "
        "(0: never); keep it at most RETENTION_INBOX_DAYS",
    )
    inbox_days: float = Field(
        default=30.0,
        ge=0,
        description="a consumer's record of an event it handled (processed_events, sent mails) "
        "is deleted this many days later; a repeat of an older event would be handled again "
        "(0: never)",
    )
    prune_batch: int = Field(
        default=500, ge=1, le=10_000, description="rows deleted per transaction when pruning"
    )
    prune_pause_seconds: float = Field(
        default=0.1, ge=0, description="pause between two batches of a pruning run"
    )
    prune_interval_seconds: float = Field(
        default=600.0, gt=0, description="a pruning run starts this often"
    )


KnobsT = TypeVar("KnobsT", bound=Knobs)


def shared_knobs(group: type[KnobsT]) -> KnobsT:
    """A knob group read from its shared variables alone (`LOG_LEVEL`, `METRICS_HOST`...), for
    a process that has no service's Settings (the SMTP sink)."""
    config = SettingsConfigDict(env_prefix=group.prefix, env_file=ENV_FILE, extra="ignore")
    reader = type(f"Shared{group.__name__}", (BaseSettings, group), {"model_config": config})
    return group(**reader().model_dump())


def env_prefix(service: Service) -> str:
    """`ORDERS_`, `INVENTORY_`, `EMAIL_`: the prefix of every variable a service reads."""
    return f"{service.value.upper()}_"


def service_config(service: Service) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=env_prefix(service), env_file=ENV_FILE, extra="ignore")


class SharedKnobsSource(PydanticBaseSettingsSource):
    """Fills each `Knobs` field of a service's Settings from the shared and the service's own
    variables, the service's own first, each looked up in the environment, then in `.env`."""

    def __init__(
        self,
        settings_cls: type[ServiceSettings],
        env: EnvSettingsSource,
        dotenv: EnvSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._service_prefix = env_prefix(settings_cls.service)
        self._layers = (env.env_vars, dotenv.env_vars)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            group = field.annotation
            if isinstance(group, type) and issubclass(group, Knobs):
                found = self._read_group(group)
                if found:
                    default = field.default if isinstance(field.default, Knobs) else group()
                    out[name] = {**default.model_dump(), **found}
        return out

    def _read_group(self, group: type[Knobs]) -> dict[str, str]:
        found: dict[str, str] = {}
        for knob in group.model_fields:
            variable = f"{group.prefix}{knob}".lower()
            names = [f"{self._service_prefix.lower()}{variable}"]
            if knob not in group.per_service:
                names.append(variable)
            value = next(
                (
                    layer[n]
                    for n in names
                    for layer in self._layers
                    if layer.get(n) not in (None, "")
                ),
                None,
            )
            if value is not None:
                found[knob] = value
        return found


class ServiceSettings(BaseSettings):
    """What every service's Settings has: the broker, the service's own broker password, and
    logging.

    The login is `<vhost>-<service>` (see `topology.user_name`); the password is read from
    `<SERVICE>_BROKER_PASSWORD`.
    """

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")
    service: ClassVar[Service]

    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    broker_password: SecretStr = Field(description="the service's broker login's password")
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    retention: RetentionSettings = RetentionSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        assert issubclass(settings_cls, ServiceSettings)
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, EnvSettingsSource)
        knobs = SharedKnobsSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, knobs, dotenv_settings, file_secret_settings

    @classmethod
    def knob_group(cls, name: str, group: type[KnobsT]) -> KnobsT:
        """The knob group `name` exactly as this service reads it (its own variable, the shared
        one, the service's default), without the rest of its settings and their secrets: for a
        tool that needs only that (broker.dead_letters reads a service's retention)."""
        field = cls.model_fields[name]
        assert field.annotation is group
        default = field.default if isinstance(field.default, group) else group()
        found = SharedKnobsSource(cls, EnvSettingsSource(cls), DotEnvSettingsSource(cls))()
        return group(**found.get(name, default.model_dump()))

    @classmethod
    def password_of(cls, service: Service) -> SecretStr:
        """Read one service's password without building its whole Settings (the vhost tool)."""
        return PasswordOnly(_env_prefix=env_prefix(service)).broker_password

    @property
    def broker_user(self) -> str:
        return user_name(self.broker.vhost, self.service)

    @property
    def broker_url(self) -> str:
        """For Celery/kombu: every node, as failover alternates."""
        return self.broker.amqp_url(self.broker_user, self.broker_password)

    @property
    def broker_urls(self) -> list[str]:
        """For pika: one URL per node, tried in turn."""
        return self.broker.amqp_urls(self.broker_user, self.broker_password)


class PasswordOnly(BaseSettings):
    """One service's `<SERVICE>_BROKER_PASSWORD`, for the vhost tool."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    broker_password: SecretStr


def settings_class(service: Service) -> type[ServiceSettings]:
    """The Settings class of `service`: `services/<service>/settings.py` has one, named
    `Settings` (services/common/registry.py lists the services). Looked up by name when asked,
    for the tools that treat every service alike (the configuration reference, the replay and
    dead-letter tools, the local runner)."""
    found: type[ServiceSettings] = importlib.import_module(f"services.{service}.settings").Settings
    return found
