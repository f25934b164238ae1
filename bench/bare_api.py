"""The HTTP baseline: a bare FastAPI POST /orders under the orders API's uvicorn settings.

    python -m bench.bare_api      (address from ORDERS_HTTP_HOST / ORDERS_HTTP_PORT)

It parses and validates the same request model and answers 202 with a small JSON body, in a sync
endpoint (run in the thread pool, like ours), with no database and no broker: what FastAPI and
uvicorn cost on their own.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI

from services.orders.api.__main__ import serve
from services.orders.api.schemas import PlaceOrderRequest


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
    serve("bench.bare_api:create_app")  # the same uvicorn call and settings as the real API


if __name__ == "__main__":
    main()
