"""Serve the API with uvicorn on ORDERS_HTTP_HOST:ORDERS_HTTP_PORT: `python -m services.orders.api`.

The Procfile and docker-compose.yml both start it this way, so the address is a setting rather
than a command-line flag that could differ between the two.
"""

from __future__ import annotations

import uvicorn

from services.orders.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "services.orders.api:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
