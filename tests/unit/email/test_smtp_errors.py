from __future__ import annotations

import smtplib

import pytest

from services.email.smtp import classify


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPConnectError(421, b"too busy"),
        smtplib.SMTPDataError(451, b"4.3.0 try again later"),
        smtplib.SMTPSenderRefused(452, b"insufficient storage", "shop@example.com"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}),
    ],
)
def test_transient_failures(exc: BaseException) -> None:
    failure = classify(exc)
    assert failure.transient, failure.reason


@pytest.mark.parametrize(
    ("exc", "reason_part"),
    [
        (smtplib.SMTPDataError(554, b"5.7.1 message rejected"), "554 5.7.1 message rejected"),
        (smtplib.SMTPRecipientsRefused({"a@x.org": (550, b"no such user")}), "550 no such user"),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "s@x.org"), "553 bad sender"),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "535 bad credentials"),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), "STARTTLS"),
    ],
)
def test_permanent_failures_carry_the_server_reason(exc: BaseException, reason_part: str) -> None:
    failure = classify(exc)
    assert not failure.transient
    assert reason_part in failure.reason


def test_a_recipient_refused_for_good_is_named() -> None:
    failure = classify(smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"unknown")}))
    assert "ada@example.com" in failure.reason
