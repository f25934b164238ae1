"""python -m services.email.sink serve|list|show

serve  run the SMTP sink (EMAIL_SINK_HOST:EMAIL_SINK_PORT, mails go to EMAIL_SINK_DIR)
list   one line per stored mail, oldest first
show   one mail (by file name, or number: 1 oldest, -1 newest): headers and the text part
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from services.common.cli import run_cli
from services.common.observability.process import observe_process
from services.common.settings import LogSettings, MetricsSettings, shared_knobs
from services.email.sink.config import SinkSettings
from services.email.sink.mailbox import Mailbox
from services.email.sink.server import build_controller

SHOWN_HEADERS = ("Date", "From", "To", "Subject", "Message-ID", "X-Sink-Envelope-To")


def serve(settings: SinkSettings) -> int:
    log, metrics = shared_knobs(LogSettings), shared_knobs(MetricsSettings)
    observe_process("smtp-sink", "email", log, metrics, settings.metrics_port)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line
    controller = build_controller(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    controller.start()
    modes = [
        f"{name}={value}"
        for name, value in (
            ("refuse", settings.refuse),
            ("tempfail", settings.tempfail),
            ("stall_seconds", settings.stall_seconds),
            ("stall_limit", settings.stall_limit),
        )
        if value
    ]
    print(
        f"SMTP sink listening on {settings.host}:{controller.port}, storing mails in "
        f"{settings.dir.resolve()}" + (f" (test modes: {', '.join(modes)})" if modes else ""),
        flush=True,
    )
    stop.wait()
    controller.stop()
    return 0


def list_mails(mailbox: Mailbox) -> int:
    mails = mailbox.mails()
    for number, mail in enumerate(mails, start=1):
        print(
            f"{number:4d}  {mail.name}  {mail.header('Date')}  to={mail.header('To')}  "
            f"subject={mail.header('Subject')!r}  message-id={mail.header('Message-ID')}"
        )
    print(f"{len(mails)} mail(s) in {mailbox.dir}", file=sys.stderr)
    return 0


def show_mail(mailbox: Mailbox, ref: str, *, part: str) -> int:
    try:
        mail = mailbox.find(ref)
    except LookupError as exc:
        print(exc, file=sys.stderr)
        return 1
    if part == "raw":
        sys.stdout.write(mail.path.read_text(errors="replace"))
        return 0
    for name in SHOWN_HEADERS:
        print(f"{name}: {mail.header(name)}")
    print(f"File: {mail.path}\n")
    print(mail.part(part))
    return 0


def main(argv: list[str] | None = None) -> int:
    defaults = SinkSettings()
    parser = argparse.ArgumentParser(prog="python -m services.email.sink", description=__doc__)
    parser.add_argument("--dir", type=Path, default=defaults.dir, help="where the .eml files are")
    commands = parser.add_subparsers(dest="command", required=True)
    srv = commands.add_parser("serve", help="run the SMTP sink")
    srv.add_argument("--host", default=defaults.host)
    srv.add_argument("--port", type=int, default=defaults.port)
    srv.add_argument("--refuse", default=defaults.refuse, help="regex: 550 for these recipients")
    srv.add_argument("--tempfail", action="store_true", default=defaults.tempfail)
    srv.add_argument("--stall-seconds", type=float, default=defaults.stall_seconds)
    srv.add_argument("--stall-limit", type=int, default=defaults.stall_limit)
    commands.add_parser("list", help="list stored mails")
    show = commands.add_parser("show", help="show one mail")
    show.add_argument("mail", nargs="?", default="-1", help="file name or number (default -1)")
    show.add_argument("--part", choices=("plain", "html", "raw"), default="plain")
    args = parser.parse_args(argv)

    mailbox = Mailbox(args.dir)
    if args.command == "serve":
        settings = SinkSettings(
            host=args.host,
            port=args.port,
            dir=args.dir,
            refuse=args.refuse,
            tempfail=args.tempfail,
            stall_seconds=args.stall_seconds,
            stall_limit=args.stall_limit,
        )
        return serve(settings)
    if args.command == "list":
        return list_mails(mailbox)
    return show_mail(mailbox, args.mail, part=args.part)


if __name__ == "__main__":
    run_cli(main)
