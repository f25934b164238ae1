"""Read a Server-Sent Events stream from a real server (httpx's in-process transport buffers
whole responses, so an endless stream must come over a socket), in a thread of its own, so that a
test can wait for the next event with a deadline."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Event:
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    data: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class SseStream:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self._events: queue.Queue[Event | BaseException] = queue.Queue()
        self._response = self._client.send(
            self._client.build_request("GET", url, headers=headers or {}), stream=True
        )
        self.status_code = self._response.status_code
        self.headers = self._response.headers
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        current = Event()
        try:
            for line in self._response.iter_lines():
                if line == "":
                    self._events.put(current)
                    current = Event()
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "data":
                        current.data.append(value)
                    elif name == "retry":
                        current.retry = int(value)
                    elif name in ("event", "id"):
                        setattr(current, name, value)
        except (httpx.HTTPError, OSError) as exc:
            self._events.put(exc)

    def next(self, timeout: float = 30) -> Event:
        got = self._events.get(timeout=timeout)
        if isinstance(got, BaseException):
            raise AssertionError(f"the stream ended: {got!r}")
        return got

    def steps(self, n: int, timeout: float = 30) -> list[Event]:
        """The next `n` `step` events (control frames skipped)."""
        found: list[Event] = []
        while len(found) < n:
            event = self.next(timeout)
            if event.event == "step":
                found.append(event)
        return found

    def quiet_for(self, seconds: float) -> bool:
        """No step arrives within `seconds` (control frames do not count)."""
        try:
            while True:
                event = self.next(seconds)
                if event.event == "step":
                    return False
        except queue.Empty:
            return True

    def close(self) -> None:
        with contextlib.suppress(httpx.HTTPError, OSError, RuntimeError):
            self._response.close()
        self._client.close()
