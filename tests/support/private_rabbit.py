"""A private RabbitMQ node for the fault-injection suite.

The reliability scenarios stop, restart and starve the broker. Doing that to the machine's shared
node would break every other test and every developer's `make up` that runs at the same time, so
the suite starts a node of its own: same RabbitMQ installation, its own node name, ports, data
directory and Erlang cookie (HOME), the management plugin enabled. It is stopped and its data
deleted when the test session ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from broker.management import ManagementClient
from tests.support.polling import wait_until
from tests.support.system import free_port

# Debian installs the real scripts here; /usr/sbin/rabbitmq-* are wrappers that `su rabbitmq`
# and would drop our HOME (and so our cookie).
_DEBIAN_BIN = Path("/usr/lib/rabbitmq/bin")

# The consumer-timeout check runs on the channel tick (60 s by default). A 1 s tick makes the
# broker-side consumer timeout scenario take seconds instead of minutes; nothing else changes.
_ADVANCED_CONFIG = "[{rabbit, [{channel_tick_interval, 1000}]}].\n"


def _script(name: str) -> str:
    debian = _DEBIAN_BIN / name
    if debian.exists():
        return str(debian)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `bash broker/ensure-rabbitmq.sh` first")
    return found


@dataclass
class PrivateRabbit:
    home: Path
    node: str
    amqp_port: int
    management_port: int
    dist_port: int
    admin_user: str = "guest"
    admin_password: str = "guest"  # guest may log in over loopback only: this node is loopback

    @classmethod
    def create(cls, home: Path) -> PrivateRabbit:
        home.mkdir(parents=True, exist_ok=True)
        return cls(
            home=home,
            node=f"shopflow-faults-{os.getpid()}@localhost",
            amqp_port=free_port(),
            management_port=free_port(),
            dist_port=free_port(),
        )

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def broker_env(self) -> dict[str, str]:
        """What a service process needs to use this node instead of the shared one."""
        return {
            "BROKER_HOST": "127.0.0.1",
            "BROKER_PORT": str(self.amqp_port),
            "BROKER_MANAGEMENT_URL": self.management_url,
        }

    def _env(self) -> dict[str, str]:
        conf = self.home / "rabbitmq.conf"
        advanced = self.home / "advanced.config"
        if not conf.exists():
            conf.write_text(
                f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
                f"management.tcp.ip = 127.0.0.1\n"
                f"management.tcp.port = {self.management_port}\n"
                "loopback_users.guest = true\n"
                # a statistics sample every half second: the books' "holds nothing" checks wait
                # for two of them (tests/support/queue_stats.py)
                "collect_statistics_interval = 500\n"
                # our own processes are not the only clients: keep the node's memory small
                "vm_memory_high_watermark.relative = 0.2\n"
            )
            advanced.write_text(_ADVANCED_CONFIG)
        return {
            **os.environ,
            "HOME": str(self.home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(advanced),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_ENABLED_PLUGINS": "rabbitmq_management",
            "RABBITMQ_PID_FILE": str(self.home / "node.pid"),
        }

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """rabbitmqctl against this node; raises with its output when it fails."""
        proc = subprocess.run(
            [_script("rabbitmqctl"), "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {proc.stdout}{proc.stderr}")
        return proc.stdout

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the node (also after `stop`: the data directory, so durable queues, persists)."""
        subprocess.run(
            [_script("rabbitmq-server"), "-detached"],
            env=self._env(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.ctl("wait", str(self.home / "node.pid"), "--timeout", "120", timeout=150)
        self.wait_management()

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM too), like a machine shutdown."""
        self.ctl("stop", str(self.home / "node.pid"))

    def stop_app(self) -> None:
        """Stop RabbitMQ inside a running VM: every connection drops, AMQP refuses new ones."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.ctl("await_startup")
        self.wait_management()

    def wait_management(self) -> None:
        def up() -> bool:
            try:
                r = httpx.get(
                    f"{self.management_url}/api/overview",
                    auth=(self.admin_user, self.admin_password),
                    timeout=2,
                )
            except httpx.HTTPError:
                return False
            return r.status_code == 200

        wait_until(up, timeout=60, interval=0.2, message="private node's management API")

    def destroy(self) -> None:
        try:
            self.stop()
        except (RuntimeError, subprocess.TimeoutExpired):
            pid_file = self.home / "node.pid"
            if pid_file.exists():
                subprocess.run(["kill", "-9", pid_file.read_text().strip()], check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    # -- faults ---------------------------------------------------------------------------

    def management(self) -> ManagementClient:
        return ManagementClient(self.management_url, self.admin_user, self.admin_password)

    def close_connections(self, user: str) -> int:
        """Close every connection of `user` from the broker side (`rabbitmqctl close_connection`;
        the node's own list, not the management plugin's statistics, which lag)."""
        closed = 0
        for line in self.ctl("list_connections", "pid", "user", "--silent").splitlines():
            pid, _, who = line.partition("\t")
            if who.strip() == user:
                self.ctl("close_connection", pid.strip(), "closed by the reliability suite")
                closed += 1
        return closed

    def set_consumer_timeout(self, milliseconds: int) -> None:
        """Change the broker-side consumer timeout; channels opened from now on use it."""
        self.ctl("eval", f"application:set_env(rabbit, consumer_timeout, {milliseconds}).")
