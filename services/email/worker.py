"""The email Celery worker.

    python -m services.email.worker
    # the same as:
    celery -A services.email.worker worker -Q email.tasks -n email@%h \
        --pool threads --concurrency 4 --task-events --without-gossip --without-mingle

The shared event ingress consumes `email.orders` and hands each valid order event to the task
`email.send_order_mails` on the private queue `email.tasks`; the task sends the event's mails
(services/email/handlers.py). SMTP errors: 4xx / unreachable are retried with backoff on
`email.tasks` only, 5xx dead-letter into `email.tasks.dlq`.

Importing this module builds the Celery app from the environment and connects to nothing; the
database engine and the SMTP sender are built on the first task, once per process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.common.db import Database
from services.common.events import Envelope
from services.common.lazy import Lazy
from services.common.topology import EMAIL_EVENTS_QUEUE, Service
from services.common.worker.app import create_worker_app, worker_argv
from services.common.worker.ingress import install_event_ingress
from services.common.worker.tasks import event_task
from services.email.handlers import Mailer, send_order_mails
from services.email.mails import MAILS_BY_EVENT, MailRenderer
from services.email.settings import Settings
from services.email.smtp import SmtpConfig, SmtpSender
from services.email.store import SentEmailStore

SEND_TASK = "email.send_order_mails"

settings = Settings()
app = create_worker_app(Service.EMAIL, settings)
install_event_ingress(
    app,
    queue=EMAIL_EVENTS_QUEUE,
    routes=dict.fromkeys(MAILS_BY_EVENT, SEND_TASK),
    prefetch=settings.ingress_prefetch,
)


def build_mailer() -> Mailer:
    return Mailer(
        renderer=MailRenderer(),
        store=SentEmailStore(
            Database(settings.database_url),
            lease=timedelta(seconds=settings.claim_lease_seconds),
        ),
        sender=SmtpSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                timeout=settings.smtp_timeout,
                ssl=settings.smtp_ssl,
                starttls=settings.smtp_starttls,
                user=settings.smtp_user,
                password=settings.smtp_password,
            )
        ),
        mail_from=settings.mail_from,
        message_id_domain=settings.message_id_domain,
    )


mailer = Lazy(build_mailer)


def handle_order_event(event: Envelope[Any]) -> None:
    send_order_mails(event, mailer())


send = event_task(
    app, SEND_TASK, lambda: handle_order_event, settings, event_types=set(MAILS_BY_EVENT)
)

__all__ = ["app", "send"]


def main() -> None:
    app.worker_main(worker_argv(Service.EMAIL, settings))


if __name__ == "__main__":
    main()
