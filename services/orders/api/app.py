"""The FastAPI application. Start it with uvicorn's factory mode (see docs/orders.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.observability import tracing
from services.orders.api.errors import install_error_handlers
from services.orders.api.limits import BodySizeLimit
from services.orders.api.metrics import HttpMetrics
from services.orders.api.routes import router
from services.orders.bootstrap import Container, bootstrap

DESCRIPTION = """
Place orders and follow them. Prices come from the service's own catalogue.
An accepted order (202) is stored together with its `order.placed` event in one transaction;
the outbox relay publishes the event to the `orders` exchange. Every error is JSON naming the
field and the problem.
"""


def create_app(container: Container | None = None) -> FastAPI:
    """`container=None` (uvicorn --factory) bootstraps from the environment and owns it."""
    owned = container is None
    container = container or bootstrap()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        logging.getLogger(__name__).info("orders API up")
        yield
        if owned:
            container.close()

    app = FastAPI(
        title="shopflow orders",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.container = container
    app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(HttpMetrics)  # the outermost: it also sees what the limit refuses
    if tracing.enabled():
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # A SERVER span per request, continuing the caller's `traceparent` if it sent one.
        FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])
    return app
