"""The orders HTTP API: `uvicorn --factory services.orders.api:create_app`."""

from services.orders.api.app import create_app

__all__ = ["create_app"]
