"""The bench's private throwaway vhost, provisioned by the real vhost tool and deleted after.

The passwords go into the environment exactly as tests/conftest.py puts them, before any Settings
is built, so the service processes the bench starts inherit them and log in as their own users.
The bench's own baseline clients (raw pika, the no-op Celery publisher) use the admin login.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika

from services.common.topology import (
    FLOWER,
    MONITOR,
    REPLAY,
    STOREFRONT,
    QueueType,
    Service,
    Topology,
    build,
    user_name,
)

LOGINS = (*Service, MONITOR, FLOWER, STOREFRONT, REPLAY)


@dataclass(frozen=True)
class BenchVhost:
    name: str
    host: str
    port: int
    management_url: str
    admin_user: str
    admin_password: str
    passwords: dict[str, str]
    topology: Topology

    @property
    def env(self) -> dict[str, str]:
        """What a process started for this vhost needs besides the passwords (the same for every
        vhost of a run): its name and its queue type."""
        return {"BROKER_VHOST": self.name, "BROKER_QUEUE_TYPE": self.topology.queue_type.value}

    def params(self) -> pika.ConnectionParameters:
        """The admin login (guest by default): for the baselines and for looking at queues."""
        return pika.ConnectionParameters(
            host=self.host,
            port=self.port,
            virtual_host=self.name,
            credentials=pika.PlainCredentials(self.admin_user, self.admin_password),
            connection_attempts=1,
            heartbeat=60,
            blocked_connection_timeout=60,
        )

    def depth(self, queue: str) -> int:
        """Ready messages in `queue`, over AMQP (no statistics delay)."""
        conn = pika.BlockingConnection(self.params())
        try:
            return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
        finally:
            conn.close()

    def purge(self, *queues: str) -> None:
        conn = pika.BlockingConnection(self.params())
        try:
            ch = conn.channel()
            for q in queues or tuple(q.name for q in self.topology.queues):
                ch.queue_purge(q)
        finally:
            conn.close()


def set_environment(vhost: str) -> dict[str, str]:
    """Random passwords for every login of `vhost`, exported like tests/conftest.py does."""
    passwords = {who: secrets.token_urlsafe(16) for who in LOGINS}
    os.environ["SHOPFLOW_ENV_FILE"] = "/nonexistent/shopflow-bench.env"
    os.environ["BROKER_VHOST"] = vhost
    os.environ["BROKER_MONITOR_PASSWORD"] = passwords[MONITOR]
    os.environ["BROKER_FLOWER_PASSWORD"] = passwords[FLOWER]
    os.environ["BROKER_REPLAY_PASSWORD"] = passwords[REPLAY]
    for svc in Service:
        os.environ[f"{svc.value.upper()}_BROKER_PASSWORD"] = passwords[svc]
    os.environ["ORDERS_STOREFRONT_BROKER_PASSWORD"] = passwords[STOREFRONT]
    os.environ["ORDERS_OPERATOR_TOKEN"] = secrets.token_urlsafe(24)
    # The load generator is one client address placing hundreds of orders a second, far past
    # what the API allows one customer (ORDERS_PLACE_RATE_LIMIT); a 429 would count as an error.
    os.environ["ORDERS_PLACE_RATE_LIMIT"] = "1000000/minute"
    return {user_name(vhost, who): pw for who, pw in passwords.items()}


@contextmanager
def throwaway_vhost() -> Iterator[BenchVhost]:
    name = f"bench-{secrets.token_hex(4)}"
    passwords = set_environment(name)
    # Imported here: it reads the environment set just above.
    from services.common.settings import BrokerSettings

    with _provisioned(name, BrokerSettings().queue_type, passwords) as vh:
        yield vh


@contextmanager
def sibling_vhost(queue_type: QueueType) -> Iterator[BenchVhost]:
    """Another throwaway vhost of `queue_type`, inside a `throwaway_vhost` whose environment (the
    passwords) it shares: its processes need only its `env` on top."""
    name = f"bench-{queue_type.value}-{secrets.token_hex(4)}"
    passwords = {user_name(name, who): os.environ[_password_variable(who)] for who in LOGINS}
    with _provisioned(name, queue_type, passwords) as vh:
        yield vh


def _password_variable(who: str) -> str:
    if who in (MONITOR, FLOWER, REPLAY):
        return f"BROKER_{who.upper()}_PASSWORD"
    if who == STOREFRONT:
        return "ORDERS_STOREFRONT_BROKER_PASSWORD"
    return f"{who.upper()}_BROKER_PASSWORD"


@contextmanager
def _provisioned(
    name: str, queue_type: QueueType, passwords: dict[str, str]
) -> Iterator[BenchVhost]:
    """`name` applied by the real vhost tool with queues of `queue_type`; deleted (with its
    logins) at the end."""
    from broker.provision import run as provision
    from services.common.settings import BrokerSettings

    lines: list[str] = []
    if provision("apply", name, out=lines.append, queue_type=queue_type) != 0:
        raise RuntimeError(f"provisioning the bench vhost {name} failed:\n" + "\n".join(lines))
    settings = BrokerSettings()
    vh = BenchVhost(
        name=name,
        host=settings.host,
        port=settings.port,
        management_url=settings.management_url,
        admin_user=os.environ.get("BROKER_ADMIN_USER", "guest"),
        admin_password=os.environ.get("BROKER_ADMIN_PASSWORD", "guest"),
        passwords=passwords,
        topology=build(name, queue_type),
    )
    try:
        yield vh
    finally:
        from broker.management import ManagementClient

        with ManagementClient(vh.management_url, vh.admin_user, vh.admin_password) as api:
            api.delete_vhost(name)
            for user in passwords:
                api.delete_user(user)
