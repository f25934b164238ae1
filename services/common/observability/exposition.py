"""Serving `/metrics` from a process, on a port of its own kind (docs/observability.md, "Ports").

Each kind of process has a fixed default port, so Prometheus and a person with `curl` know where
to look. A second process of the same kind on one host (a standby relay, a second worker in the
fault suite) finds the port taken: it serves on a free port instead and says which in its log,
rather than failing to start over its metrics.
"""

from __future__ import annotations

import logging

from prometheus_client import disable_created_metrics, start_http_server

log = logging.getLogger("shopflow.metrics")

# `<name>_created` next to every counter doubles the output and nothing here reads it.
disable_created_metrics()  # type: ignore[no-untyped-call]


def serve_metrics(host: str, port: int, process: str) -> int:
    """Serve this process's metrics on `host:port` (a free port if taken, or if 0); the port."""
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as exc:
        if port == 0:
            raise
        server, _thread = start_http_server(0, addr=host)
        log.warning(
            "metrics port %s:%d is taken (%s): another %s runs here? serving on port %d instead",
            host,
            port,
            exc.strerror or exc,
            process,
            server.server_port,
        )
    bound = int(server.server_port)
    log.info("%s metrics on http://%s:%d/metrics", process, host, bound)
    return bound
