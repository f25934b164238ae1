"""Builds the email service's objects once per process and hands them down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.common.db import Database
from services.common.observability.process import trace_database
from services.email.mails import MailRenderer
from services.email.message import Letterhead
from services.email.settings import Settings
from services.email.smtp import SmtpConfig, SmtpSender
from services.email.store import SentEmailStore


@dataclass
class Container:
    """What the email handlers may ask for, by parameter name."""

    settings: Settings
    db: Database
    store: SentEmailStore
    renderer: MailRenderer
    sender: SmtpSender
    letterhead: Letterhead

    def close(self) -> None:
        self.db.dispose()


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout,
        ssl=settings.smtp_ssl,
        starttls=settings.smtp_starttls,
        user=settings.smtp_user,
        password=settings.smtp_password,
    )


def bootstrap(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    db = Database(settings.database_url)
    trace_database(db)  # if this process traces (observability/process.py)
    return Container(
        settings=settings,
        db=db,
        store=SentEmailStore(db, lease=timedelta(seconds=settings.claim_lease_seconds)),
        renderer=MailRenderer(),
        sender=SmtpSender(smtp_config(settings)),
        letterhead=Letterhead(settings.mail_from, settings.message_id_domain),
    )
