"""Running a command-line tool: its reader going away (`| head`, `| less` then q) ends it quietly.

Python ignores SIGPIPE, so a tool whose stdout reader has gone gets a BrokenPipeError at its
next write, or at the flush when the interpreter exits, and prints a traceback about it. Shell
tools die of SIGPIPE without a word; `run_cli` does the same: it exits with the status a shell
shows for a tool killed by SIGPIPE (141) and nothing on stderr.

Only a closed stdout is taken that way. A BrokenPipeError from anything else (a socket, a
subprocess) is a real error and keeps its traceback.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

SIGPIPE_EXIT = 128 + signal.SIGPIPE


def run_cli(main: Callable[[], int]) -> NoReturn:
    """`sys.exit(main())`, except that a closed stdout ends the tool as SIGPIPE would."""
    try:
        code = main()
        sys.stdout.flush()  # inside the try: the last lines may still sit in the buffer
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise
        # What is still buffered can never be written; /dev/null takes it, so the interpreter's
        # own flush at exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        code = SIGPIPE_EXIT
    sys.exit(code)


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reading end is closed: poll reports an error
    on the writing end of such a pipe."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _fd, events in poller.poll(0))
