"""Settings of the email service (env prefix `EMAIL_`; docs/configuration.md)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import RetryPolicy, WorkerSettings, WorkerTuning

SMTP_SCHEMES = {"smtp": 25, "smtps": 465}


class Settings(WorkerSettings):
    model_config = service_config(Service.EMAIL)
    service: ClassVar[Service] = Service.EMAIL

    database_url: str = Field(default="sqlite:///var/email.db", description="any SQLAlchemy URL")

    smtp_url: str = Field(
        default="smtp://127.0.0.1:1025",
        description="smtp://host:port (plain, optionally STARTTLS) or smtps://host:port (TLS)",
    )
    smtp_starttls: bool = Field(default=False, description="upgrade smtp:// with STARTTLS")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server wants one")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_timeout: float = Field(default=30.0, gt=0, description="seconds per SMTP exchange")
    mail_from: str = Field(
        default="shopflow <orders@shopflow.example>", description="the From of every mail"
    )
    message_id_domain: str = Field(
        default="shopflow", description="Message-IDs are <event id>.<template>@this"
    )

    worker: WorkerTuning = WorkerTuning.of(Service.EMAIL)

    # SMTP servers restart: transient failures (4xx, unreachable) retry longer than the other
    # services' (at least ~9 minutes before a dead letter), unless RETRY_* / EMAIL_RETRY_* say.
    retry: RetryPolicy = RetryPolicy(max=10, backoff_seconds=2.0, backoff_max_seconds=300.0)

    # A claim older than this belongs to a worker that died mid-send and is taken over. It must
    # be longer than the longest send (a few smtp_timeout), or a slow send gets doubled.
    claim_lease_seconds: float = Field(
        default=120.0, gt=0, description="a mail claimed longer ago is taken over"
    )

    @field_validator("smtp_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
            raise ValueError("must look like smtp://host:port or smtps://host:port")
        return value

    @property
    def smtp_host(self) -> str:
        return urlsplit(self.smtp_url).hostname or "127.0.0.1"

    @property
    def smtp_port(self) -> int:
        parts = urlsplit(self.smtp_url)
        return parts.port or SMTP_SCHEMES[parts.scheme]

    @property
    def smtp_ssl(self) -> bool:
        return urlsplit(self.smtp_url).scheme == "smtps"
