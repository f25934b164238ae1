"""The settings that name a port of a local run (`make up`), from the registry of the checkout
this runs in.

`python -m tests.support.port_settings` run from a clone's root prints the clone's own, as JSON:
`python -m` imports the clone's modules, so a clone given a service of its own
(docs/adding-a-service.md) names that service's ports too.
"""

from __future__ import annotations

import json
from typing import TypedDict

from services.common.registry import PROCESSES, Kind, Service, runs

# The servers' own ports: the orders API, Flower's web UI, the development SMTP sink.
SERVER_PORTS = ("ORDERS_HTTP_PORT", "FLOWER_PORT", "EMAIL_SINK_PORT")


class PortSettings(TypedDict):
    tcp: list[str]
    udp: list[str]


def port_settings() -> PortSettings:
    """Every TCP port a local run listens on (each process's /metrics included), and every
    relay's UDP wake-up port."""
    metrics = [p.metrics_port_variable for p in PROCESSES if p.kind is not Kind.TOOL]
    wakeups = [f"{s.value.upper()}_RELAY_WAKE_PORT" for s in Service if runs(s, Kind.RELAY)]
    return {"tcp": [*SERVER_PORTS, *metrics], "udp": wakeups}


if __name__ == "__main__":
    print(json.dumps(port_settings()))
