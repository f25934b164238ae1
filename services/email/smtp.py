"""Sending over real SMTP, and sorting failures into "try again later" and "never works".

Transient: the server cannot be reached (refused, timeout, dropped connection) or answers 4xx.
Permanent: the server answers 5xx, or refuses the recipient for good. The reason is the server's
own reply, so it ends up in the logs next to the dead-lettered event.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import SecretStr

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


class SmtpSender:
    """One SMTP session per mail: mails are few, and a fresh session never inherits bad state."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, message: EmailMessage) -> None:
        cfg = self.config
        attributes: dict[str, str | int] = {"server.address": cfg.host, "server.port": cfg.port}
        with _tracer.start_as_current_span(
            "smtp send", kind=SpanKind.CLIENT, attributes=attributes
        ):
            self._send(message)

    def _send(self, message: EmailMessage) -> None:
        cfg = self.config
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        try:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.user:
                password = cfg.password.get_secret_value() if cfg.password else ""
                smtp.login(cfg.user, password)
            refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc) from exc
        finally:
            _quit(smtp)
        if refused:  # some recipients accepted, some not: the refused ones never get it
            raise classify(smtplib.SMTPRecipientsRefused(refused))

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.ssl:
            return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout)
        return smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye, ignoring failures: once the server took the DATA, the mail is its problem,
    and an error here must not make us send it again."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
