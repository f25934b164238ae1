"""The one registry of services and processes: which services exist, and what each one runs.

Everything that lists services or processes is derived from here, never written twice: the
topology's logins and queues (services/common/topology), the Procfile, docker compose's services
and Prometheus's targets, the PostgreSQL databases, `.env.example`'s per-service lines (all four
generated: `make generate`), every process's `/metrics` port and each relay's wake-up port
(below), the local runner's readiness probes and the test system's tables.

A service is a folder `services/<name>/` with a process module for each kind it runs
(`services/<name>/worker.py`, `relay.py`, `api/`, `beat.py`); `docs/adding-a-service.md` walks
through adding one. This module is plain data: it imports nothing of the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Service(StrEnum):
    """Every service, in the order they were added: ports follow this order, so a new service
    goes at the end (an existing process never changes its port)."""

    ORDERS = "orders"
    INVENTORY = "inventory"
    EMAIL = "email"
    SHIPPING = "shipping"


class Kind(StrEnum):
    """What a process is; each kind has its command and its readiness by convention."""

    API = "api"  # python -m services.<svc>.api; ready when GET /ready answers 200
    RELAY = "relay"  # python -m services.<svc>.relay; ready when it holds its outbox's lease
    WORKER = "worker"  # python -m services.<svc>.worker; ready when its queues have a consumer
    BEAT = "beat"  # python -m services.<svc>.beat; ready once it is scheduling
    SINK = "sink"  # the development SMTP sink (email's); ready when its port answers
    TOOL = "tool"  # not a service's: Flower


@dataclass(frozen=True)
class Process:
    name: str  # the Procfile name: `<service>-<kind>`, unless it says otherwise
    kind: Kind
    service: Service | None
    module: str
    args: tuple[str, ...] = ()

    @property
    def metrics_port_variable(self) -> str:
        """The setting that moves its /metrics port: `<SERVICE>_<KIND>_METRICS_PORT`."""
        assert self.service is not None, f"{self.name} serves no /metrics of ours"
        return f"{self.service}_{self.kind}_METRICS_PORT".upper()

    @property
    def command(self) -> str:
        """As the Procfile and compose write it (`python` is the environment's interpreter)."""
        return " ".join(("python", "-m", self.module, *self.args))


def _of(service: Service, *kinds: Kind) -> tuple[Process, ...]:
    module = {Kind.API: "api", Kind.RELAY: "relay", Kind.WORKER: "worker", Kind.BEAT: "beat"}
    return tuple(
        Process(f"{service}-{kind}", kind, service, f"services.{service}.{module[kind]}")
        for kind in kinds
    )


# Every process of a local run, in start order (the Procfile's order).
PROCESSES: tuple[Process, ...] = (
    *_of(Service.ORDERS, Kind.API, Kind.RELAY, Kind.WORKER, Kind.BEAT),
    *_of(Service.INVENTORY, Kind.WORKER, Kind.RELAY),
    *_of(Service.EMAIL, Kind.WORKER),
    Process("smtp-sink", Kind.SINK, Service.EMAIL, "services.email.sink", ("serve",)),
    *_of(Service.SHIPPING, Kind.WORKER, Kind.RELAY),
    Process("flower", Kind.TOOL, None, "broker.flower"),
)

METRICS_PORT_BASE = 9100  # the first process serves /metrics on 9101, the next on 9102, ...
RELAY_WAKE_PORT_BASE = 47300  # the first relay listens for wake-ups on 47301, ...


def process(name: str) -> Process:
    found = [p for p in PROCESSES if p.name == name]
    if not found:
        raise KeyError(f"no process {name!r} in services/common/registry.py")
    return found[0]


def processes_of(service: Service) -> tuple[Process, ...]:
    return tuple(p for p in PROCESSES if p.service is service)


def runs(service: Service, kind: Kind) -> bool:
    return any(p.kind is kind for p in processes_of(service))


def _with_metrics() -> tuple[Process, ...]:
    """Flower serves its own /metrics on its web port: every other process gets one of ours."""
    return tuple(p for p in PROCESSES if p.kind is not Kind.TOOL)


def metrics_port(service: Service, kind: Kind) -> int:
    """The default /metrics port of `service`'s process of `kind`: one per process, in the order
    of PROCESSES (docs/observability.md, "Ports")."""
    for n, p in enumerate(_with_metrics(), start=1):
        if p.service is service and p.kind is kind:
            return METRICS_PORT_BASE + n
    raise KeyError(f"{service} runs no {kind} (services/common/registry.py)")


def relay_wake_port(service: Service) -> int:
    """The default UDP port `service`'s relay listens on for wake-ups after each commit."""
    relays = [p for p in PROCESSES if p.kind is Kind.RELAY]
    for n, p in enumerate(relays, start=1):
        if p.service is service:
            return RELAY_WAKE_PORT_BASE + n
    raise KeyError(f"{service} runs no relay (services/common/registry.py)")
