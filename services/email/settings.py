"""Settings of the email service (env prefix `EMAIL_`, see .env.example)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from services.common.settings import service_config
from services.common.topology import Service
from services.common.worker.settings import WorkerSettings

SMTP_SCHEMES = {"smtp": 25, "smtps": 465}


class Settings(WorkerSettings):
    model_config = service_config(Service.EMAIL)
    service: ClassVar[Service] = Service.EMAIL

    database_url: str = "sqlite:///var/email.db"

    # smtp://host:port (plain, optionally upgraded with STARTTLS) or smtps://host:port (TLS).
    smtp_url: str = "smtp://127.0.0.1:1025"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=30.0, gt=0)
    mail_from: str = "shopflow <orders@shopflow.example>"
    message_id_domain: str = "shopflow"

    # Transient failures (SMTP down, 4xx, a claim held by another worker) are retried on the
    # private task queue with full jitter: uniform(0, min(max, base * 2**n)), at most retry_max
    # times (at most ~18.5 minutes in all with these values); then the event is dead-lettered.
    retry_max: int = Field(default=10, ge=0)
    retry_backoff_seconds: float = Field(default=2.0, ge=0)
    retry_backoff_max_seconds: float = Field(default=300.0, ge=0)

    # A claim older than this belongs to a worker that died mid-send and is taken over. It must
    # be longer than the longest send (a few smtp_timeout), or a slow send gets doubled.
    claim_lease_seconds: float = Field(default=120.0, gt=0)

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
