"""Poll for a condition with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionTimeout(AssertionError):
    pass


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call `probe` until it returns something truthy; return that. Fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise ConditionTimeout(
                f"timed out after {timeout}s waiting for: {text} (last={last!r})"
            )
        time.sleep(interval)
