"""The foreground terminal of a run: every process's log lines, each prefixed with its name.

supervisord writes each process's output to its own log file; `Follow` reads those files like
`tail -F` and `Output` prints the lines in honcho's format (`12:00:01 inventory-worker | ...`).

`Output` notices when nobody reads stdout any more, for instance `make up | tee up.log` after tee
died of the same Ctrl-C: the next write fails with EPIPE, and a pipe whose reader is gone
reports POLLERR even before anything is written. From then on it writes nothing, so the run can
still stop every process instead of hanging on (or dying of) a dead pipe.
"""

from __future__ import annotations

import errno
import os
import select
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, TextIO

from honcho.colour import get_colours
from honcho.printer import Message, Printer

_GONE = select.POLLERR | select.POLLHUP | select.POLLNVAL


class Output:
    def __init__(self, stream: TextIO, names: list[str]) -> None:
        self._stream = stream
        self._printer = Printer(stream, width=max(map(len, names)))
        self._colours = dict(zip(names, get_colours(), strict=False))
        self._lock = threading.Lock()
        self.closed = False

    def line(self, name: str, text: str) -> None:
        message = Message("line", text, datetime.now(), name, self._colours.get(name))
        self._write(lambda: self._printer.write(message))

    def text(self, text: str) -> None:
        """Unprefixed text: the panel and the runner's own notes."""
        self._write(lambda: print(text, file=self._stream, flush=True))

    def reader_gone(self) -> bool:
        if not self.closed:
            poller = select.poll()
            poller.register(self._stream.fileno(), select.POLLOUT)
            if any(events & _GONE for _, events in poller.poll(0)):
                self._close()
        return self.closed

    def _write(self, write: Callable[[], None]) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                write()
            except OSError as exc:  # EPIPE: the reader exited; EIO: the terminal hung up
                if exc.errno not in (errno.EPIPE, errno.EIO):
                    raise
                self._close()

    def _close(self) -> None:
        self.closed = True
        # Point the descriptor at /dev/null: whatever is still buffered (and the interpreter's
        # last flush at exit) goes nowhere instead of raising BrokenPipeError again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)


class Follow:
    """One log file, followed like `tail -F` from where it ended when the run began."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._start = path.stat().st_size if path.exists() else 0  # earlier runs stay unprinted
        self._file: BinaryIO | None = None
        self._partial = b""

    def read_lines(self) -> list[str]:
        if self._file is None and not self._open():
            return []
        assert self._file is not None
        data = self._file.read()
        if self._replaced():  # supervisor rotated it: finish the old file, then take the new one
            data += self._file.read()
            self._file.close()
            self._file = None
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode(errors="replace").rstrip("\r") for line in lines]

    def _open(self) -> bool:
        try:
            self._file = self.path.open("rb")
        except FileNotFoundError:
            return False
        self._file.seek(self._start)
        self._start = 0
        return True

    def _replaced(self) -> bool:
        assert self._file is not None
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return True
        if now.st_ino != os.fstat(self._file.fileno()).st_ino:
            return True
        if now.st_size < self._file.tell():  # truncated (`supervisorctl clear`)
            self._file.seek(0)
        return False
