"""The headers every answer carries, and CORS (docs/security.md).

The pages load only their own scripts and styles: no inline script, nothing from another origin,
no framing. `Referrer-Policy: no-referrer` matters more than usual here, because the address of
an order's page holds its id, which is what lets one read the order.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI draws its icons as data: URIs
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
}
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_NAMES = frozenset(name for name, _ in _RAW_HEADERS)


class SecurityHeaders:
    """Pure ASGI middleware (it must not buffer the event streams): sets `SECURITY_HEADERS` on
    every HTTP answer, errors included, replacing any the app set. They are added as raw
    headers built once, not one by one through `MutableHeaders`, which scans the answer's
    headers for each name (this runs on every answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", ()) if h[0].lower() not in _NAMES]
                message["headers"] = kept + _RAW_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allow_origins(app: FastAPI, origins: list[str]) -> None:
    """CORS is closed unless origins are configured (ORDERS_CORS_ORIGINS): without the
    middleware no answer carries Access-Control-Allow-Origin, so no other site's script can read
    one. With it, only those origins, and only what the storefront needs."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Idempotency-Key", "X-Correlation-ID", "Last-Event-ID"],
        expose_headers=["Location", "Idempotent-Replayed", "Retry-After"],
        allow_credentials=False,
        max_age=600,
    )
