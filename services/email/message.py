"""Turning a rendered mail into a MIME message with a Message-ID derived from the event.

The Message-ID is a pure function of (event id, template): a mail sent twice for the same event
(the documented one-duplicate window) carries the same Message-ID, so clients and people can
recognise the duplicate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from services.email.mails import RenderedMail

# dot-atom-text characters that are safe in the left part of a msg-id (RFC 5322 3.6.4)
_SAFE_ID = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@dataclass(frozen=True)
class Letterhead:
    """Who our mails come from, and the domain of their Message-IDs."""

    mail_from: str
    message_id_domain: str


def message_id(event_id: str, template: str, domain: str = "shopflow") -> str:
    """`<{event_id}.{template}@{domain}>`; an event id that is not a valid atom is hashed."""
    left = f"{event_id}.{template}"
    if not _SAFE_ID.match(left):
        left = f"{hashlib.sha256(event_id.encode()).hexdigest()[:32]}.{template}"
    return f"<{left}@{domain}>"


def build_message(
    mail: RenderedMail, letterhead: Letterhead, *, message_id: str, date: datetime
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = letterhead.mail_from
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg
