"""A small typed client for the RabbitMQ management HTTP API (3.10 and 4.x)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class ManagementError(RuntimeError):
    pass


def _q(part: str) -> str:
    return quote(part, safe="")


class ManagementClient:
    def __init__(self, base_url: str, user: str, password: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api", auth=(user, password), timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ManagementClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw verbs -----------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            resp = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ManagementError(
                f"cannot reach the management API at {self._http.base_url}: {exc}"
            ) from exc
        if resp.status_code == 401:
            raise ManagementError(
                f"{method} {path}: 401, the management API refused the login"
                " (check BROKER_ADMIN_USER/BROKER_ADMIN_PASSWORD)"
            )
        return resp

    def get(self, path: str) -> Any | None:
        """Decoded JSON, or None on 404."""
        resp = self.request("GET", path)
        if resp.status_code == 404:
            return None
        self._raise_for(resp, "GET", path)
        return resp.json()

    def put(self, path: str, body: Any) -> None:
        resp = self.request("PUT", path, body)
        self._raise_for(resp, "PUT", path)

    def post(self, path: str, body: Any) -> Any:
        resp = self.request("POST", path, body)
        self._raise_for(resp, "POST", path)
        return resp.json() if resp.content else None

    def delete(self, path: str) -> None:
        resp = self.request("DELETE", path)
        if resp.status_code != 404:
            self._raise_for(resp, "DELETE", path)

    @staticmethod
    def _raise_for(resp: httpx.Response, method: str, path: str) -> None:
        if resp.status_code >= 400:
            raise ManagementError(f"{method} {path}: {resp.status_code} {resp.text.strip()}")

    # -- paths ---------------------------------------------------------------------------------

    @staticmethod
    def path(*parts: str) -> str:
        return "/" + "/".join(_q(p) for p in parts)

    # -- conveniences used by the tool, the tests and the scenario -----------------------------

    def rabbitmq_version(self) -> tuple[int, int]:
        """(major, minor) of the node answering, e.g. (3, 10) or (4, 3)."""
        overview: dict[str, Any] = self.get("/overview") or {}
        major, minor, *_ = (overview.get("rabbitmq_version") or "0.0").split(".")
        return int(major), int(minor)

    def queue(self, vhost: str, name: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.get(self.path("queues", vhost, name))
        return result

    def get_messages(self, vhost: str, queue: str, count: int = 100) -> list[dict[str, Any]]:
        """Peek at up to `count` messages: they are requeued (ackmode=ack_requeue_true)."""
        body = {"count": count, "ackmode": "ack_requeue_true", "encoding": "auto"}
        result: list[dict[str, Any]] = self.post(self.path("queues", vhost, queue, "get"), body)
        return result

    def delete_vhost(self, vhost: str) -> None:
        self.delete(self.path("vhosts", vhost))

    def delete_user(self, user: str) -> None:
        self.delete(self.path("users", user))
