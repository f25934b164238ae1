"""Sending an event's mails, once: `send_order_mails`.

For every mail the event causes (`MAILS_BY_EVENT`): claim `(event id, template)` in the email
database, send over SMTP, mark it sent. A mail already sent is skipped, so a redelivered or
duplicated event sends nothing. A claim held by another live worker is not ours: the task is
`Deferred` until that claim's lease runs out (outside the retry budget: waiting is not
failing). An SMTP failure gives the claim back and becomes a `TransientError` (retried with
backoff on the private queue) or a `PermanentError` (dead-lettered at once, with the server's
reply in the log). Email cannot be exactly-once: a worker that dies after the server took the
mail and before the mark leaves a claim that is taken over when its lease runs out, and the mail
goes out again with the same Message-ID (docs/email.md, "the one-duplicate window").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, Protocol

from services.common.events import Envelope
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.email.mails import MAILS_BY_EVENT, MailRenderer
from services.email.message import build_message, message_id
from services.email.smtp import SendFailed
from services.email.store import ClaimOutcome, SentEmailStore

log = logging.getLogger("shopflow.email.handlers")


class Sender(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass
class Mailer:
    """The email service's objects, built once per process by the worker's bootstrap."""

    renderer: MailRenderer
    store: SentEmailStore
    sender: Sender
    mail_from: str
    message_id_domain: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def send_order_mails(event: Envelope[Any], mailer: Mailer) -> list[str]:
    """Returns, per template, what happened: sent / already sent."""
    done: list[str] = []
    for template in MAILS_BY_EVENT.get(event.type, ()):
        mail = mailer.renderer.render(template, event)
        mid = message_id(event.id, template, mailer.message_id_domain)
        claim = mailer.store.claim(event.id, template, recipient=mail.recipient, message_id=mid)
        ids = f"{event.type} {event.id} correlation={event.correlationid} mail {template}"
        if claim.outcome is ClaimOutcome.ALREADY_SENT:
            log.info("%s: already sent, nothing to do", ids)
            done.append(f"{template}: already sent")
            continue
        if claim.outcome is ClaimOutcome.HELD or claim.token is None:
            until = claim.held_until or mailer.clock()
            raise Deferred(
                f"{ids}: another worker is sending it (until {until:%H:%M:%S})",
                seconds=(until - mailer.clock()).total_seconds(),
            )
        message = build_message(
            mail, mail_from=mailer.mail_from, message_id=mid, date=mailer.clock()
        )
        try:
            mailer.sender.send(message)
        except SendFailed as exc:
            mailer.store.release(event.id, template, claim.token, exc.reason)
            error = TransientError if exc.transient else PermanentError
            raise error(f"{ids} to {mail.recipient}: {exc.reason}") from exc
        mailer.store.mark_sent(event.id, template, claim.token)
        taken_over = (
            " (taken over from a worker that died mid-send)"
            if (claim.outcome is ClaimOutcome.TAKEN_OVER)
            else ""
        )
        log.info("%s: sent to %s as %s%s", ids, mail.recipient, mid, taken_over)
        done.append(f"{template}: sent")
    return done
