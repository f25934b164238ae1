"""The orders HTTP API: `python -m services.orders.api` (uvicorn, factory mode)."""

from services.orders.api.app import create_app

__all__ = ["create_app"]
