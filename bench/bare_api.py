"""The HTTP baseline: a bare FastAPI POST /orders under the orders API's uvicorn settings.

    python -m bench.bare_api      (address from ORDERS_HTTP_HOST / ORDERS_HTTP_PORT)

It parses and validates the same request model and answers 202 with a small JSON body, in a sync
endpoint (run in the thread pool, like ours), with no database and no broker: what FastAPI and
uvicorn cost on their own.
"""

from __future__ import annotations

import uuid

import uvicorn
from fastapi import FastAPI

from services.orders.api.schemas import PlaceOrderRequest
from services.orders.settings import Settings


def create_app() -> FastAPI:
    app = FastAPI(title="bench bare endpoint")

    @app.post("/orders", status_code=202)
    def post_order(request: PlaceOrderRequest) -> dict[str, str]:
        return {
            "id": str(uuid.uuid4()),
            "status": "PENDING",
            "customer_email": request.customer_email,
        }

    return app


def main() -> None:
    settings = Settings()
    # The same call as services/orders/api/__main__.py.
    uvicorn.run(
        "bench.bare_api:create_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
