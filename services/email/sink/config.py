"""Sink settings (env prefix `EMAIL_SINK_`); every one can also be given as a CLI flag."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.registry import Kind, Service, metrics_port
from services.common.settings import ENV_FILE


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMAIL_SINK_", env_file=ENV_FILE, extra="ignore")

    host: str = Field(default="127.0.0.1", description="the sink's SMTP address")
    port: int = Field(default=1025, ge=0, le=65535, description="the sink's SMTP port")
    dir: Path = Field(default=Path("var/mail"), description="where it stores each mail (.eml)")
    metrics_port: int = Field(
        default=metrics_port(Service.EMAIL, Kind.SINK),
        ge=0,
        le=65535,
        description="the sink's /metrics port (0: any free port)",
    )
    # test modes
    refuse: str | None = Field(
        default=None, description="test mode: recipients matching this regex get 550"
    )
    tempfail: bool = Field(default=False, description="test mode: every mail gets 451")
    stall_seconds: float = Field(
        default=0.0, ge=0, description="test mode: wait this long before the final 250 ..."
    )
    stall_limit: int = Field(
        default=0, ge=0, description="... for the first N mails only (0: every mail)"
    )
