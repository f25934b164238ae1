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
from datetime import datetime
from typing import Any, Protocol

from services.common.events import Envelope
from services.common.observability.metrics import MAILS_SENT
from services.common.worker.errors import Deferred, PermanentError, TransientError
from services.email.mails import MAILS_BY_EVENT, MailRenderer
from services.email.message import Letterhead, OutgoingMail, build_message, message_id
from services.email.smtp import SendFailed
from services.email.store import Claim, ClaimOutcome, SentEmailStore, utc_now

log = logging.getLogger("shopflow.email.send")


class Sender(Protocol):
    def send(self, mail: OutgoingMail) -> None: ...


def send_order_mails(
    event: Envelope[Any],
    store: SentEmailStore,
    renderer: MailRenderer,
    sender: Sender,
    letterhead: Letterhead,
    clock: Callable[[], datetime] = utc_now,
) -> list[str]:
    """Returns, per template, what happened: sent / already sent."""
    done: list[str] = []
    for template in MAILS_BY_EVENT.get(event.type, ()):
        mail = renderer.render(template, event)
        mid = message_id(event.id, template, letterhead.message_id_domain)
        claim = store.claim(event.id, template, recipient=mail.recipient, message_id=mid)
        what = f"{event.describe()} mail {template}"
        if claim.outcome is ClaimOutcome.ALREADY_SENT:
            log.info("%s: already sent, nothing to do", what)
            done.append(f"{template}: already sent")
            continue
        token = _ours(claim, what, clock)
        outgoing = build_message(mail, letterhead, message_id=mid, date=clock())
        try:
            sender.send(outgoing)
        except SendFailed as exc:
            store.release(event.id, template, token, exc.reason)
            raise _classified(exc, f"{what} to {mail.recipient}") from exc
        store.mark_sent(event.id, template, token)
        MAILS_SENT.labels(template).inc()
        taken_over = claim.outcome is ClaimOutcome.TAKEN_OVER
        note = " (taken over from a worker that died mid-send)" if taken_over else ""
        log.info("%s: sent to %s as %s%s", what, mail.recipient, mid, note)
        done.append(f"{template}: sent")
    return done


def _ours(claim: Claim, what: str, clock: Callable[[], datetime]) -> str:
    """Our claim token, or `Deferred` until the live claim of another worker runs out."""
    if claim.outcome is not ClaimOutcome.HELD and claim.token is not None:
        return claim.token
    until = claim.held_until or clock()
    raise Deferred(
        f"{what}: another worker is sending it (until {until:%H:%M:%S})",
        seconds=(until - clock()).total_seconds(),
    )


def _classified(exc: SendFailed, what: str) -> Exception:
    error = TransientError if exc.transient else PermanentError
    return error(f"{what}: {exc.reason}")
