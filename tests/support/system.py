"""The whole system as real subprocesses, started from the Procfile's own commands.

Each test gets its own SQLite files, mail folder and free ports; the broker is the session's
throwaway vhost. Processes can be stopped, killed and restarted one by one.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from honcho.environ import parse_procfile

from services.common.registry import PROCESSES, Kind, Process, Service, runs
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import PYTHON, REPO_ROOT, ServiceProcess


def _ready_log(process: Process) -> str | None:
    """What a process prints once it is ready, by its kind (the API is asked for /ready)."""
    return {
        Kind.RELAY: r"lease .* acquired",
        Kind.WORKER: rf"{process.service}@\S+ ready\.",
        Kind.SINK: r"listening",
        Kind.BEAT: r"celery beat .* is starting",
    }.get(process.kind)


# Every table below comes from the registry (services/common/registry.py).
READY_LOG = {p.name: log for p in PROCESSES if (log := _ready_log(p)) is not None}
# The setting that names each process's /metrics port (docs/observability.md, "Ports").
METRICS_PORT_SETTINGS = {p.name: p.metrics_port_variable for p in PROCESSES if p.kind != Kind.TOOL}
# Every process of the system but Flower (a tool to look at it, started by the tests that need it).
DEFAULT_PROCESSES = tuple(p.name for p in PROCESSES if p.kind != Kind.TOOL)


def procfile_commands() -> dict[str, list[str]]:
    processes = parse_procfile((REPO_ROOT / "Procfile").read_text()).processes
    out = {}
    for name, command in processes.items():
        argv = shlex.split(command)
        out[name] = [PYTHON, *argv[1:]] if argv[0] == "python" else argv
    return out


@dataclass
class System:
    tmp: Path
    env: dict[str, str]
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['ORDERS_HTTP_PORT']}"

    @property
    def mail_dir(self) -> Path:
        return Path(self.env["EMAIL_SINK_DIR"])

    def metrics_url(self, name: str) -> str:
        """The /metrics of the first process of kind `name` (each kind has its own port)."""
        return f"http://127.0.0.1:{self.env[METRICS_PORT_SETTINGS[name]]}/metrics"

    def db_url(self, service: str) -> str:
        return self.env[f"{service.upper()}_DATABASE_URL"]

    def start(self, name: str, instance: str | None = None) -> ServiceProcess:
        """Start Procfile process `name`; `instance` names a second copy ("inventory-worker-2")."""
        label = instance or name
        proc = ServiceProcess(label, procfile_commands()[name], self.tmp / "logs", env=self.env)
        self.procs[label] = proc.start()
        return proc

    def restart(self, name: str) -> None:
        """Start `name` again (after a stop or a kill) and wait until it is ready."""
        self.start(name)
        self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        kind = next((k for k in READY_LOG if name.startswith(k)), name)
        if name == "orders-api":
            wait_until(self._api_ready, timeout=timeout, message="orders API /ready")
        elif kind in READY_LOG:
            self.procs[name].wait_for_log(READY_LOG[kind], timeout=timeout)

    def _api_ready(self) -> bool:
        proc = self.procs["orders-api"]
        if not proc.alive():
            raise AssertionError(f"orders-api exited:\n{proc.log()[-3000:]}")
        try:
            return httpx.get(f"{self.api_url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def terminate_all(self, grace: float = 60.0) -> dict[str, int | None]:
        """SIGTERM every process, the last started first, each given `grace` seconds to exit by
        itself. Name -> exit code; None for a process that had to be SIGKILLed."""
        codes: dict[str, int | None] = {}
        for name, proc in reversed(list(self.procs.items())):
            try:
                codes[name] = proc.terminate(timeout=grace)
            except AssertionError:  # it ignored SIGTERM; terminate() SIGKILLed it
                codes[name] = None
        return codes


def _init_databases(env: dict[str, str], tmp: Path) -> None:
    proc = ServiceProcess("init-databases", [PYTHON, "-m", "runner", "databases"], tmp, env=env)
    proc.start()
    assert proc.proc is not None
    assert proc.proc.wait(timeout=120) == 0, proc.log()


@contextmanager
def running_system(
    tmp: Path,
    processes: tuple[str, ...] = DEFAULT_PROCESSES,
    extra_env: dict[str, str] | None = None,
) -> Iterator[System]:
    available = procfile_commands()
    env = {
        "ORDERS_HTTP_PORT": str(free_port()),
        "EMAIL_SINK_DIR": str(tmp / "mail"),
        "ORDERS_EXPIRY_CHECK_SECONDS": "1",
        "WORKER_CONCURRENCY": "2",
    }
    for service in Service:
        env[f"{service.upper()}_DATABASE_URL"] = f"sqlite:///{tmp}/{service}.db"
        if runs(service, Kind.RELAY):
            env[f"{service.upper()}_RELAY_WAKE_PORT"] = str(free_port(socket.SOCK_DGRAM))
    env.update({setting: str(free_port()) for setting in METRICS_PORT_SETTINGS.values()})
    sink_port = free_port()
    env["EMAIL_SINK_PORT"] = str(sink_port)
    env["EMAIL_SMTP_URL"] = f"smtp://127.0.0.1:{sink_port}"
    env.update(extra_env or {})
    _init_databases(env, tmp)
    system = System(tmp, env)
    try:
        for name in processes:
            if name in available:
                system.start(name)
        for name in processes:
            if name in available:
                system.wait_ready(name)
        yield system
    finally:
        system.stop_all()
