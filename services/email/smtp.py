"""Sending over real SMTP, and sorting failures into "try again later" and "never works".

Transient: the server cannot be reached (refused, timeout, dropped connection) or answers 4xx.
Permanent: the server answers 5xx, or refuses the recipient for good. The reason is the server's
own reply, so it ends up in the logs next to the dead-lettered event.

Sessions. Each pool thread keeps its SMTP session for the next mail (RFC 5321 allows any number
of mail transactions in one session), so a busy worker does not pay a TCP connect, EHLO, STARTTLS,
AUTH and QUIT per mail (docs/benchmarks.md). A kept session is
never one with unknown state: any failure closes it, and the next mail opens a new one. A session
idle for `MAX_IDLE_SECONDS` is closed instead of reused (a server may have timed it out, and then
the mail would fail and wait for its retry), and one that carried `MAX_MAILS_PER_SESSION` mails is
closed (some servers limit mails per connection). A session the server dropped anyway shows up
as a failed mail: transient, retried with backoff like any other. That can send a mail twice only
if the server took its DATA and the reply was lost, the same window as a lost reply on a fresh
session. The sessions are not closed when the worker stops: the server sees the connection end
between two mail transactions, which it handles like any client that goes away.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

from services.email.message import OutgoingMail

_tracer = trace.get_tracer("shopflow.email.smtp")


class SendFailed(Exception):
    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    timeout: float = 30.0
    ssl: bool = False  # smtps:// (implicit TLS)
    starttls: bool = False
    user: str | None = None
    password: SecretStr | None = None


def _reply_text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)


def _from_reply(what: str, code: int, message: bytes | str) -> SendFailed:
    return SendFailed(f"{what}: {code} {_reply_text(message)}", transient=400 <= code < 500)


def classify(exc: BaseException) -> SendFailed:
    """The SendFailed for anything smtplib or the socket layer raised."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = exc.recipients.values()
        reason = "; ".join(
            f"{rcpt} refused: {code} {_reply_text(msg)}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
        return SendFailed(reason, transient=all(400 <= code < 500 for code, _ in replies))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _from_reply(f"sender {exc.sender} refused", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPResponseException):  # data, helo, auth, connect errors
        return _from_reply(type(exc).__name__, exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendFailed(f"server does not support: {exc}", transient=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendFailed(f"TLS certificate rejected: {exc}", transient=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError | OSError):
        return SendFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}", transient=True)
    return SendFailed(f"{type(exc).__name__}: {exc}", transient=False)


# what smtplib.send_message asks for a mail with an address that is not ASCII
_SMTPUTF8_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")


def _require_smtputf8(smtp: smtplib.SMTP) -> None:
    """As smtplib.send_message checks: a server without SMTPUTF8 never gets such a mail (a
    permanent failure), not even one that speaks only HELO."""
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("smtputf8"):
        raise smtplib.SMTPNotSupportedError(
            "an address is not ASCII, and the server does not offer SMTPUTF8"
        )


MAX_IDLE_SECONDS = 5.0
MAX_MAILS_PER_SESSION = 100


@dataclass
class _Session:
    smtp: smtplib.SMTP
    last_used: float
    mails: int = 0


class SmtpSender:
    """Sends a mail on the calling thread's session (opened, or reopened, as needed)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._local = threading.local()

    def send(self, mail: OutgoingMail) -> None:
        cfg = self.config
        attributes: dict[str, str | int] = {"server.address": cfg.host, "server.port": cfg.port}
        with _tracer.start_as_current_span(
            "smtp send", kind=SpanKind.CLIENT, attributes=attributes
        ):
            self._send(mail)

    def _send(self, mail: OutgoingMail) -> None:
        session = self._session()
        options = _SMTPUTF8_OPTIONS if mail.smtputf8 else ()
        try:
            if mail.smtputf8:
                _require_smtputf8(session.smtp)
            refused = session.smtp.sendmail(mail.sender, [mail.recipient], mail.data, options)
        except (smtplib.SMTPException, OSError) as exc:
            self._close()  # never reused: it may be in the middle of a transaction
            raise classify(exc) from exc
        session.mails += 1
        session.last_used = time.monotonic()
        if refused:  # some recipients accepted, some not: the refused ones never get it
            raise classify(smtplib.SMTPRecipientsRefused(refused))

    def _session(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is not None:
            idle = time.monotonic() - session.last_used
            if idle < MAX_IDLE_SECONDS and session.mails < MAX_MAILS_PER_SESSION:
                return session
            self._close()
        try:
            smtp = self._open()
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        session = _Session(smtp, time.monotonic())
        self._local.session = session
        return session

    def _open(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout)
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
        try:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.user:
                password = cfg.password.get_secret_value() if cfg.password else ""
                smtp.login(cfg.user, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self) -> None:
        session: _Session | None = getattr(self._local, "session", None)
        self._local.session = None
        if session is not None:
            _quit(session.smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye, ignoring failures: an error here must not fail a mail the server took."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
