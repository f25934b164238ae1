"""A private RabbitMQ node for the fault-injection suite.

The reliability scenarios stop, restart and starve the broker. Doing that to the machine's shared
node would break every other test and every developer's `make up` that runs at the same time, so
the suite starts a node of its own: same RabbitMQ installation, its own node name, ports, data
directory and Erlang cookie (HOME), the management plugin enabled. It is stopped and its data
deleted when the test session ends.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from broker.local_node import LocalNode, NodeError, NodePorts
from broker.management import ManagementClient
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.queue_stats import SAMPLES_EVERY_SECOND, STATISTICS_EVERY_HALF_SECOND

# The consumer-timeout check runs on the channel tick (60 s by default). A 1 s tick makes the
# broker-side consumer timeout scenario take seconds instead of minutes; the statistics are kept
# as 1 s samples (tests/support/queue_stats.py). Nothing else changes.
_ADVANCED_CONFIG = f"[{{rabbit, [{{channel_tick_interval, 1000}}]}}, {SAMPLES_EVERY_SECOND}].\n"
_SETTINGS = [
    STATISTICS_EVERY_HALF_SECOND,
    # our own processes are not the only clients: keep the node's memory small
    "vm_memory_high_watermark.relative = 0.2",
]


@dataclass
class PrivateRabbit:
    local: LocalNode
    admin_user: str = "guest"
    admin_password: str = "guest"  # guest may log in over loopback only: this node is loopback

    @classmethod
    def create(cls, home: Path) -> PrivateRabbit:
        ports = NodePorts(amqp=free_port(), management=free_port(), dist=free_port())
        node = LocalNode(
            name=f"shopflow-faults-{os.getpid()}-{secrets.token_hex(2)}@localhost",  # pids recur
            home=home,
            ports=ports,
            settings=_SETTINGS,
            advanced_config=_ADVANCED_CONFIG,
        )
        node.write_files()
        return cls(node)

    @property
    def home(self) -> Path:
        return self.local.home

    @property
    def node(self) -> str:
        return self.local.name

    @property
    def amqp_port(self) -> int:
        return self.local.ports.amqp

    @property
    def management_port(self) -> int:
        return self.local.ports.management

    @property
    def management_url(self) -> str:
        return self.local.management_url

    def broker_env(self) -> dict[str, str]:
        """What a service process needs to use this node instead of the shared one."""
        return {
            "BROKER_HOST": "127.0.0.1",
            "BROKER_PORT": str(self.amqp_port),
            "BROKER_MANAGEMENT_URL": self.management_url,
        }

    def ctl(self, *args: str, timeout: float = 120) -> str:
        """rabbitmqctl against this node; raises with its output when it fails."""
        return self.local.ctl(*args, timeout=timeout)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the node (also after `stop`: the data directory, so durable queues, persists)."""
        self.local.start()
        self.local.wait_started()
        self.wait_management()

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM too), like a machine shutdown."""
        self.local.stop()

    def stop_app(self) -> None:
        """Stop RabbitMQ inside a running VM: every connection drops, AMQP refuses new ones."""
        self.local.stop_app()

    def start_app(self) -> None:
        self.local.start_app()
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
        except (NodeError, subprocess.TimeoutExpired):
            if self.local.vm_pid() is not None:
                self.local.kill9()
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
