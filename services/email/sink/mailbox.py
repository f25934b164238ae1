"""The sink's folder of .eml files: written atomically, listed in arrival order."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import cast

SUFFIX = ".eml"


@dataclass(frozen=True)
class StoredMail:
    path: Path
    message: EmailMessage

    @property
    def name(self) -> str:
        return self.path.name

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    def part(self, subtype: str) -> str:
        """The body part `text/<subtype>` ("plain" or "html"), or "" if there is none."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            return ""
        return str(cast(EmailMessage, body).get_content())


class Mailbox:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def store(self, raw: bytes, *, mail_from: str, rcpt_tos: list[str]) -> Path:
        """Write one received mail; readers never see a half-written file (tmp + rename).

        Not fsynced: a stored mail survives the sink's death (it is in the kernel's page cache),
        not the machine's. The sink stands in for a mail server in development and tests; the
        fsync was a fifth of its CPU per mail, and every mail's SMTP reply waited for the disk.
        """
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        trace = (
            f"X-Sink-Envelope-From: <{mail_from}>\r\n"
            f"X-Sink-Envelope-To: {', '.join(f'<{r}>' for r in rcpt_tos)}\r\n"
        ).encode()
        folder = os.fspath(self.dir)
        tmp = os.path.join(folder, f".{name}.tmp")
        try:
            _write(tmp, trace + raw)
        except FileNotFoundError:  # the first mail, or the folder was removed meanwhile
            self.dir.mkdir(parents=True, exist_ok=True)
            _write(tmp, trace + raw)
        final = os.path.join(folder, name)
        os.replace(tmp, final)
        return Path(final)

    def paths(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if p.suffix == SUFFIX and p.name[0] != ".")

    def read(self, path: Path) -> StoredMail:
        with path.open("rb") as fh:
            message = BytesParser(policy=policy.default).parse(fh)
        return StoredMail(path, message)

    def mails(self) -> list[StoredMail]:
        return [self.read(p) for p in self.paths()]

    def find(self, ref: str) -> StoredMail:
        """A mail by file name (with or without `.eml`), by its path as `show` prints it
        (`var/mail/<name>.eml`), or by position: 1 is the oldest, -1 the newest."""
        paths = self.paths()
        by_name = [p for p in paths if self._names(ref, p)]
        if by_name:
            return self.read(by_name[0])
        try:
            index = int(ref)
        except ValueError:
            raise LookupError(f"no mail named {ref!r} in {self.dir}") from None
        if index == 0 or abs(index) > len(paths):
            raise LookupError(f"no mail number {index} in {self.dir} ({len(paths)} mails)")
        return self.read(paths[index - 1 if index > 0 else index])

    def _names(self, ref: str, path: Path) -> bool:
        """Whether `ref` names the stored mail at `path`: its name or stem, or a path to it."""
        wanted = Path(ref)
        if wanted.parent != Path(".") and wanted.resolve().parent != self.dir.resolve():
            return False  # a file in some other folder
        return wanted.name in (path.name, path.stem)


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
