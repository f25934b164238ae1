"""Who may do what over HTTP (docs/security.md): the operator's bearer token for listing orders,
and the per-client limit on placing them, which the operator's orders are not counted against.
A single order needs neither: its id, a random UUID that only its customer was given, is the
capability to read it.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse_many
from pydantic import SecretStr

# auto_error=False: the route checks the token itself, after the query is validated, so that a
# malformed query is a 422 naming the parameter whoever sends it; and /docs shows an Authorize
# button for this scheme.
operator_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="operator token",
    description="ORDERS_OPERATOR_TOKEN, sent as `Authorization: Bearer <token>`",
)


class NotAnOperator(Exception):
    """401: listing orders needs the operator token."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class TooManyRequests(Exception):
    """429: this client placed too many orders; `retry_after` seconds until the next may go."""

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


NO_CREDENTIALS = "missing: send `Authorization: Bearer <operator token>`"
WRONG_CREDENTIALS = "not the operator token"


def is_operator(credentials: HTTPAuthorizationCredentials | None, token: SecretStr) -> bool:
    """Do `credentials` carry the operator token? The comparison takes the same time wherever
    the two differ, so timing tells nothing about the token."""
    if credentials is None:
        return False
    return hmac.compare_digest(credentials.credentials.encode(), token.get_secret_value().encode())


def require_operator(credentials: HTTPAuthorizationCredentials | None, token: SecretStr) -> None:
    """Raise `NotAnOperator` unless `credentials` carry the operator token."""
    if credentials is None:
        raise NotAnOperator(NO_CREDENTIALS)
    if not is_operator(credentials, token):
        raise NotAnOperator(WRONG_CREDENTIALS)


class PlaceOrderLimit:
    """At most `rule` (e.g. `300/minute`) POST /orders per client address, over a moving window.

    Counted in this process's memory: each API process counts on its own. The client is the TCP
    peer: uvicorn runs with proxy_headers off, so no header can pose as another client.

    The rule is written in the notation of `limits`, which parses it; the counting is ours, on
    the event loop (the route's dependency is async, so no lock): per client and window, the
    times of its requests still inside it, oldest first. The memory storage of `limits` started
    a new timer thread up to every 10 ms under load to expire entries, and inserted each hit at
    the front of a list (docs/benchmarks.md).
    """

    def __init__(self, rule: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows = [
            _Window(_describe(item), item.amount, float(item.get_expiry()))
            for item in parse_many(rule)
        ]
        self._longest = max(window.seconds for window in self._windows)
        self._clients: dict[str, list[deque[float]]] = {}
        self._swept = clock()

    def hit(self, client: str) -> None:
        """Count one request of `client`; raise `TooManyRequests` if it is over a limit (then
        it counts in no window)."""
        now = self._clock()
        if now - self._swept > self._longest:
            self._forget_idle_clients(now)
        times = self._clients.get(client)
        if times is None:
            times = self._clients[client] = [deque() for _ in self._windows]
        for window, hits in zip(self._windows, times, strict=True):
            while hits and hits[0] <= now - window.seconds:
                hits.popleft()
            if len(hits) >= window.amount:
                retry_after = max(1, math.ceil(hits[0] + window.seconds - now))
                raise TooManyRequests(window.limit, retry_after)
        for hits in times:
            hits.append(now)

    @property
    def clients(self) -> frozenset[str]:
        """The client addresses it keeps times for."""
        return frozenset(self._clients)

    def _forget_idle_clients(self, now: float) -> None:
        """Drop the clients with no request inside the longest window: they hold nothing back."""
        self._clients = {
            client: times
            for client, times in self._clients.items()
            if any(hits and hits[-1] > now - self._longest for hits in times)
        }
        self._swept = now


@dataclass(frozen=True)
class _Window:
    limit: str  # how the 429 names it: "300 per minute"
    amount: int
    seconds: float


def _describe(item: RateLimitItem) -> str:
    per = item.GRANULARITY.name + ("s" if item.multiples > 1 else "")
    count = f"{item.multiples} " if item.multiples > 1 else ""
    return f"{item.amount} per {count}{per}"
