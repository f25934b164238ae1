"""The aiosmtpd handler of the sink, with its test modes."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiosmtpd.controller import Controller

from services.common.observability.metrics import SINK_MAILS
from services.email.sink.config import SinkSettings
from services.email.sink.mailbox import Mailbox

log = logging.getLogger("services.email.sink")


class SinkHandler:
    def __init__(self, mailbox: Mailbox, settings: SinkSettings) -> None:
        self.mailbox = mailbox
        self.refuse = re.compile(settings.refuse) if settings.refuse else None
        self.tempfail = settings.tempfail
        self.stall_seconds = settings.stall_seconds
        self.stall_limit = settings.stall_limit
        self.stalled = 0
        self.stored = SINK_MAILS.labels("stored")  # looked up once, not per mail

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse and self.refuse.search(address):
            log.info("refusing recipient %s (test mode)", address)
            SINK_MAILS.labels("refused").inc()
            return f"550 5.1.1 <{address}>: recipient refused by the sink (test mode)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if self.tempfail:
            log.info("temp-failing a mail from %s (test mode)", envelope.mail_from)
            SINK_MAILS.labels("tempfailed").inc()
            return "451 4.3.0 temporary failure in the sink (test mode), try again later"
        path = self.mailbox.store(
            envelope.original_content or envelope.content,
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
        )
        log.info("stored %s for %s", path.name, ", ".join(envelope.rcpt_tos))
        self.stored.inc()
        if self.stall_seconds and (not self.stall_limit or self.stalled < self.stall_limit):
            self.stalled += 1
            log.info(
                "stalling %.1fs before accepting %s (test mode)", self.stall_seconds, path.name
            )
            await asyncio.sleep(self.stall_seconds)
        return "250 2.0.0 stored"


def build_controller(settings: SinkSettings) -> Controller:
    handler = SinkHandler(Mailbox(settings.dir), settings)
    return Controller(handler, hostname=settings.host, port=settings.port)
