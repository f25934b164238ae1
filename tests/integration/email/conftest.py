"""The SMTP sink and the email worker as real processes, each test with its own folder and port."""

from __future__ import annotations

from pathlib import Path

from services.common.db import Database
from services.email.models import SentEmail
from services.email.sink.mailbox import Mailbox, StoredMail
from tests.support.email import make_email_db as support_make_email_db
from tests.support.email import sent_email
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess

WORKER_READY = r"email@\S+ ready\."
SINK_READY = r"SMTP sink listening on"


def sink_process(tmp: Path, port: int, *flags: str, name: str = "smtp-sink") -> ServiceProcess:
    argv = [PYTHON, "-m", "services.email.sink", "--dir", str(tmp / "mail")]
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port), *flags]
    return ServiceProcess(name, argv, tmp)


def make_email_db(tmp: Path) -> tuple[str, Database]:
    url = f"sqlite:///{tmp}/email.db"
    return url, support_make_email_db(url)


def email_worker(
    tmp: Path, db_url: str, smtp_port: int, name: str = "email-worker", **env: str
) -> ServiceProcess:
    """`python -m services.email.worker` (not started): quick retries, a short claim lease."""
    return ServiceProcess(
        name,
        [PYTHON, "-m", "services.email.worker"],
        tmp,
        env={
            "EMAIL_DATABASE_URL": db_url,
            "EMAIL_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "EMAIL_SMTP_TIMEOUT": "60",
            "EMAIL_WORKER_CONCURRENCY": "2",
            "EMAIL_RETRY_MAX": "60",
            "EMAIL_RETRY_BACKOFF_SECONDS": "0.2",
            "EMAIL_RETRY_BACKOFF_MAX_SECONDS": "1.0",
            "EMAIL_CLAIM_LEASE_SECONDS": "3",
            **env,
        },
    )


def mails_with(mailbox: Mailbox, message_id: str) -> list[StoredMail]:
    return [m for m in mailbox.mails() if m.header("Message-ID") == message_id]


def wait_for_mails(
    mailbox: Mailbox, message_id: str, count: int = 1, timeout: float = 60
) -> list[StoredMail]:
    def probe() -> list[StoredMail] | None:
        found = mails_with(mailbox, message_id)
        return found if len(found) >= count else None

    return wait_until(
        probe,
        timeout=timeout,
        message=f"{count} mail(s) with Message-ID {message_id} in {mailbox.dir}",
    )


def sent_row(db: Database, event_id: str, template: str) -> SentEmail | None:
    row = sent_email(db, event_id, template)
    return row if row is not None and row.status == "sent" else None
