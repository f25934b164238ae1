"""The FastAPI application. Start it with uvicorn's factory mode (see docs/orders.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial

from fastapi import FastAPI
from pydantic import SecretStr

from services.common.observability import tracing
from services.orders.api import pages, routes
from services.orders.api.access import PlaceOrderLimit
from services.orders.api.errors import install_error_handlers
from services.orders.api.headers import SecurityHeaders, allow_origins
from services.orders.api.limits import BodySizeLimit
from services.orders.api.metrics import HttpMetrics
from services.orders.bootstrap import Container, bootstrap
from services.orders.live import Hub, LiveBridge
from services.orders.settings import Settings

DESCRIPTION = """
Place orders and follow them. Prices come from the service's own catalogue.
An accepted order (202) is stored together with its `order.placed` event in one transaction;
the outbox relay publishes the event to the `orders` exchange. Every error is JSON naming the
field and the problem.

An order's id is the key to it: whoever has it may read the order and follow it live. Listing
every order needs the operator token (Authorize). The storefront is at `/`.
"""

log = logging.getLogger(__name__)


def create_app(container: Container | None = None, *, live_updates: bool = True) -> FastAPI:
    """`container=None` (uvicorn --factory) bootstraps from the environment and owns it.
    `live_updates=False` starts no bridge to the broker (tests that drive the hub themselves)."""
    owned = container is None
    container = container or bootstrap()
    operator_token, storefront_password = container.settings.api_secrets()
    hub = Hub()
    bridge = _live_bridge(container.settings, storefront_password, hub) if live_updates else None
    app = _application(_lifespan(bridge, container if owned else None))
    _hold_state(app, container, operator_token, hub)
    install_error_handlers(app)
    _add_middleware(app, container.settings)
    _trace_requests(app)
    return app


BridgeOnLoop = Callable[[asyncio.AbstractEventLoop], LiveBridge]


def _live_bridge(settings: Settings, password: SecretStr, hub: Hub) -> BridgeOnLoop:
    """The live updates' bridge from the broker to `hub`, made on the app's loop once it runs."""
    return partial(
        LiveBridge, settings.storefront_broker_urls(password), hub, timeout=settings.ready_timeout
    )


def _lifespan(
    bridge_on: BridgeOnLoop | None, owned: Container | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the bridge (if any) with the app; stop it, and close the container the app owns
    (if it does), when the app stops."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        bridge = bridge_on(asyncio.get_running_loop()) if bridge_on else None
        if bridge is not None:
            bridge.start()
        log.info("orders API up")
        yield
        if bridge is not None:
            await asyncio.to_thread(bridge.stop)
        if owned is not None:
            owned.close()

    return lifespan


def _application(lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]) -> FastAPI:
    # The routes are handed over as a flat list (not include_router), so that a 405 can name
    # every method the path serves (errors.allowed_methods).
    return FastAPI(
        title="shopflow orders",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        routes=[*routes.router.routes, *pages.router.routes],
        docs_url=None,  # pages.py serves /docs with Swagger UI's files from this process
        redoc_url=None,
    )


def _hold_state(app: FastAPI, container: Container, operator_token: SecretStr, hub: Hub) -> None:
    """What the routes read from `request.app.state`."""
    app.state.container = container
    app.state.operator_token = operator_token
    app.state.hub = hub
    app.state.place_limit = PlaceOrderLimit(container.settings.place_rate_limit)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Each added one wraps those added before it: the last is the outermost."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    allow_origins(app, settings.cors_origins)
    app.add_middleware(HttpMetrics)  # outside the body limit and CORS: it sees what they refuse
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the middlewares' too


def _trace_requests(app: FastAPI) -> None:
    """A SERVER span per request, continuing the caller's `traceparent` if it sent one."""
    if tracing.enabled():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
