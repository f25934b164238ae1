"""Sink settings (env prefix `EMAIL_SINK_`); every one can also be given as a CLI flag."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ENV_FILE


class SinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMAIL_SINK_", env_file=ENV_FILE, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=1025, ge=0, le=65535)
    dir: Path = Path("var/mail")
    # test modes
    refuse: str | None = None  # regex: matching recipients get 550 at RCPT
    tempfail: bool = False  # every mail gets 451 after DATA (nothing is stored)
    stall_seconds: float = Field(default=0.0, ge=0)  # wait this long before the final 250 ...
    stall_limit: int = Field(default=0, ge=0)  # ... for the first N mails only (0: every mail)
