"""The email Celery worker: `python -m services.email.worker`.

The shared event ingress consumes `email.orders` and hands each valid order event to the task
`email.send_order_mails` on the private queue `email.tasks` (services/common/worker/service.py
derives the task and routes from the table below); the task sends the event's mails
(services/email/send.py). SMTP errors: 4xx / unreachable are retried with backoff on
`email.tasks` only, 5xx dead-letter into `email.tasks.dlq`.
"""

from __future__ import annotations

from services.common.worker.service import Handler, ServiceWorker
from services.email.bootstrap import bootstrap
from services.email.mails import MAILS_BY_EVENT
from services.email.send import send_order_mails
from services.email.settings import Settings
from services.email.store import sent_mails_expiry

# Every event that causes a mail goes to the one handler (the templates differ per event).
HANDLERS: dict[str, Handler] = dict.fromkeys(MAILS_BY_EVENT, send_order_mails)

worker = ServiceWorker(Settings(), bootstrap, HANDLERS, inbox=sent_mails_expiry())
app = worker.app

if __name__ == "__main__":
    worker.main()
