"""The API's Prometheus metrics, counted around the whole app (docs/observability.md).

Pure ASGI middleware, outermost, so every answer is seen, also those made before a route runs
(413 from the body-size limit, 404, 405): requests, their duration and how many answers are in
progress (an open event stream counts there until it closes), by route template, never by raw
path.
For `POST /orders` it also counts what became of the order: accepted, replayed (the answer has
`Idempotent-Replayed`), or refused, by the `error` code of the answer's body.
"""

from __future__ import annotations

import json
import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.observability.metrics import (
    HTTP_DURATION,
    HTTP_IN_PROGRESS,
    HTTP_REQUESTS,
    ORDERS_ACCEPTED,
    ORDERS_REFUSED,
    ORDERS_REPLAYED,
)

UNMATCHED = "(unmatched)"
ORDERS = "/orders"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Series:
    """The labelled children of one method and route, looked up once: `labels()` validates and
    hashes its values under a lock on each call, and every request needed three."""

    def __init__(self, method: str, route: str) -> None:
        self.method, self.route = method, route
        self.in_progress: Gauge = HTTP_IN_PROGRESS.labels(method, route)
        self.duration: Histogram = HTTP_DURATION.labels(method, route)
        self._requests: dict[int, Counter] = {}

    def requests(self, status: int) -> Counter:
        counter = self._requests.get(status)
        if counter is None:
            counter = self._requests[status] = HTTP_REQUESTS.labels(
                self.method, self.route, str(status)
            )
        return counter


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._series: dict[tuple[str, str], _Series] = {}  # methods and route templates: few

    def _of(self, method: str, route: str) -> _Series:
        series = self._series.get((method, route))
        if series is None:
            series = self._series[(method, route)] = _Series(method, route)
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        answer = _Answer(placing=method == "POST" and scope["path"] == ORDERS)
        streaming: Gauge | None = None

        async def watching(message: Message) -> None:
            nonlocal streaming
            answer.saw(message)
            if message["type"] == "http.response.start":
                # Routed by now: Starlette puts the route in the scope before calling it.
                streaming = self._of(method, _route(scope)).in_progress
                streaming.inc()
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, watching)
        finally:
            if streaming is not None:
                streaming.dec()
            series = self._of(method, _route(scope))
            series.duration.observe(time.perf_counter() - started)
            series.requests(answer.status).inc()
            answer.count_order()


def _route(scope: Scope) -> str:
    """The template of the route that answered (`/orders/{order_id}`), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class _Answer:
    """What the app answered: its status, and for a placed order its header and error code."""

    def __init__(self, *, placing: bool) -> None:
        self.placing = placing
        self.status = 500  # an app that raised before answering
        self.replayed = False
        self.body = b""

    def saw(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.replayed = any(
                name.lower() == b"idempotent-replayed" for name, _ in message.get("headers", [])
            )
        elif message["type"] == "http.response.body" and self.placing and self.status >= 400:
            self.body += message.get("body", b"")

    def count_order(self) -> None:
        if not self.placing:
            return
        if self.status == 202:
            (ORDERS_REPLAYED if self.replayed else ORDERS_ACCEPTED).inc()
        elif self.status >= 400:
            ORDERS_REFUSED.labels(self._error_code()).inc()

    def _error_code(self) -> str:
        try:
            code = json.loads(self.body).get("error")
        except (ValueError, AttributeError):
            code = None
        return code if isinstance(code, str) and code.isidentifier() else f"http_{self.status}"
