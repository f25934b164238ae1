"""The in-process fan-out between the bridge and the streams of one API process.

A stream watches one order. The bridge tells the hub "order X changed" for every event it
consumes, and "subscribed again" each time its queue is bound and consumed anew after a start or
a broker outage. The hub wakes the streams of X for the first, and every stream for the second:
whatever was committed while nobody listened is in the database, and a woken stream reads it.

Everything here runs on the event loop; the bridge's thread calls in with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Watcher:
    """One stream's wake-up flag. Set by the hub, cleared by the stream just before it reads,
    so a wake-up that comes during the read makes it read once more: none is lost, several
    in a row cost one read."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    def clear(self) -> None:
        self._woken.clear()

    async def wait(self) -> None:
        await self._woken.wait()


class Hub:
    NOT_YET = "not subscribed to the order events yet"

    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self.problem: str | None = self.NOT_YET  # None while the bridge's queue is consumed

    @contextmanager
    def watch(self, order_id: str) -> Iterator[Watcher]:
        """Watch `order_id` for as long as the block runs. Enter it before the first read."""
        watcher = Watcher(order_id)
        self._watchers.setdefault(order_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            watchers = self._watchers[order_id]
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[order_id]

    def changed(self, order_id: str) -> None:
        """An event about `order_id` arrived: its streams read what is new."""
        for watcher in self._watchers.get(order_id, ()):
            watcher.wake()

    def subscribed(self) -> None:
        """The bridge consumes again: every stream reads what it may have missed meanwhile."""
        self.problem = None
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.wake()

    def unsubscribed(self, why: str) -> None:
        """The bridge lost the broker. Streams keep what they have and wait; `subscribed` will
        wake them. Until then /ready says why."""
        self.problem = why

    @property
    def watching(self) -> int:
        return sum(len(w) for w in self._watchers.values())
