"""Serve the API with uvicorn on ORDERS_HTTP_HOST:ORDERS_HTTP_PORT: `python -m services.orders.api`.

The Procfile and docker-compose.yml both start it this way, so the address is a setting rather
than a command-line flag that could differ between the two.
"""

from __future__ import annotations

import uvicorn

from services.common.observability.process import observe_process
from services.orders.settings import Settings

# An order's event stream never ends by itself, and uvicorn waits for every open response before
# it stops: after this many seconds it cancels them, and the browsers reconnect to the next API.
STREAMS_GRACE_SECONDS = 2


def serve(app_factory: str = "services.orders.api:create_app") -> None:
    """Run `app_factory` under uvicorn with the API's settings (the benchmark's bare endpoint
    uses this too, so both are served the same way)."""
    settings = Settings()
    log, metrics = settings.log, settings.metrics
    observe_process("orders-api", "orders", log, metrics, settings.api_metrics_port)
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_level=log.level.lower(),
        log_config=None,  # uvicorn's loggers write through ours (LOG_FORMAT), not their own
        proxy_headers=False,
        timeout_graceful_shutdown=STREAMS_GRACE_SECONDS,
    )


def main() -> None:
    serve()


if __name__ == "__main__":
    main()
