"""Is each process of the Procfile ready? One probe per Procfile entry, all read-only.

- the orders API: `GET /ready` answers 200 (its database and the broker answer);
- a Celery worker: its event queue(s) and private task queue have a consumer (read over AMQP with a
  passive declare as the read-only monitor user, which is live, unlike the management stats);
- the SMTP sink and Flower: their port answers.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pika
import pika.exceptions

from runner.endpoints import Endpoints
from services.common.registry import PROCESSES, Kind, Process, Service
from services.common.topology import EVENT_SUBSCRIPTIONS, task_queue

Probe = Callable[[Endpoints], str | None]  # None when ready, else what is missing


def _http_ok(url: str) -> str | None:
    try:
        resp = httpx.get(url, timeout=2.0)
    except httpx.HTTPError as exc:
        return f"{url}: {exc.__class__.__name__}"
    return None if resp.status_code == 200 else f"{url}: HTTP {resp.status_code}"


def _port_open(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _consumers(ep: Endpoints, queues: list[str]) -> str | None:
    try:
        conn = pika.BlockingConnection(ep.monitor_amqp())
    except pika.exceptions.AMQPError as exc:
        return f"broker: {exc.__class__.__name__}"
    try:
        ch = conn.channel()
        for queue in queues:
            if ch.queue_declare(queue, passive=True).method.consumer_count == 0:
                return f"no consumer on {queue} yet"
        return None
    finally:
        conn.close()


def _worker(service: Service) -> Probe:
    queues = [q for q, _, _ in EVENT_SUBSCRIPTIONS.get(service, ())] + [task_queue(service)]
    return lambda ep: _consumers(ep, queues)


def _probe(process: Process) -> Probe | None:
    """How to tell `process` is ready, by its kind; None: it has no probe (a relay, beat)."""
    if process.kind is Kind.API:
        return lambda ep: _http_ok(f"{ep.api_url}/ready")
    if process.kind is Kind.WORKER and process.service is not None:
        return _worker(process.service)
    if process.kind is Kind.SINK:
        return lambda ep: _port_open(ep.smtp_host, ep.smtp_port)
    if process.kind is Kind.TOOL:
        return lambda ep: _port_open(*_host_port(ep.flower_url))
    return None


PROBES: dict[str, Probe] = {p.name: probe for p in PROCESSES if (probe := _probe(p)) is not None}


def wait_until_ready(names: list[str], timeout: float) -> list[str]:
    """Poll every probe until all pass or `timeout` runs out; return what is still missing."""
    endpoints = Endpoints.from_settings()
    deadline = time.monotonic() + timeout
    while True:
        problems = [
            f"{name}: {problem}"
            for name in names
            if name in PROBES and (problem := PROBES[name](endpoints))
        ]
        if not problems or time.monotonic() >= deadline:
            return problems
        time.sleep(0.5)
