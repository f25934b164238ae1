"""Who may do what over HTTP (docs/security.md): the operator's bearer token for listing orders,
and the per-client limit on placing them, which the operator's orders are not counted against.
A single order needs neither: its id, a random UUID that only its customer was given, is the
capability to read it.
"""

from __future__ import annotations

import hmac
import math
import time

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
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

    Counted in this process's memory: each API process counts on its own (a shared count needs
    one of the storages `limits` offers, such as Redis). The client is the TCP peer: uvicorn
    runs with proxy_headers off, so no header can pose as another client.
    """

    def __init__(self, rule: str) -> None:
        self._items: list[RateLimitItem] = parse_many(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, client: str) -> None:
        """Count one request of `client`; raise `TooManyRequests` if it is over a limit."""
        for item in self._items:
            if not self._limiter.hit(item, client):
                reset_at = self._limiter.get_window_stats(item, client).reset_time
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise TooManyRequests(_describe(item), retry_after)


def _describe(item: RateLimitItem) -> str:
    per = item.GRANULARITY.name + ("s" if item.multiples > 1 else "")
    count = f"{item.multiples} " if item.multiples > 1 else ""
    return f"{item.amount} per {count}{per}"
