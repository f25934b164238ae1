"""Direct broker access for tests: pika connections as any user, and management API peeks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from broker.management import ManagementClient
from services.common.events import Envelope, EventData
from services.common.settings import BrokerSettings
from services.common.topology import Topology
from tests.support import queue_stats


@dataclass(frozen=True)
class TestBroker:
    """The throwaway vhost of this test session, with every login in it."""

    __test__ = False

    settings: BrokerSettings
    topology: Topology
    passwords: dict[str, str]  # user name -> password
    admin_user: str
    admin_password: str

    @property
    def vhost(self) -> str:
        return self.settings.vhost

    def params(self, user: str | None = None) -> pika.ConnectionParameters:
        user = user or self.admin_user
        password = self.admin_password if user == self.admin_user else self.passwords[user]
        return pika.ConnectionParameters(
            host=self.settings.host,
            port=self.settings.port,
            virtual_host=self.vhost,
            credentials=pika.PlainCredentials(user, password),
            connection_attempts=1,
            blocked_connection_timeout=30,
        )

    @contextmanager
    def channel(self, user: str | None = None) -> Iterator[BlockingChannel]:
        conn = pika.BlockingConnection(self.params(user))
        try:
            yield conn.channel()
        finally:
            if conn.is_open:
                conn.close()

    def management(self) -> ManagementClient:
        return ManagementClient(self.settings.management_url, self.admin_user, self.admin_password)

    def ready(self, queue: str) -> int:
        """READY messages in `queue` right now (a passive declare: no statistics delay).

        Messages a consumer holds unacked are not counted: use it for queues nobody consumes
        (DLQs, `*.unroutable`, a queue whose consumer is not running). Whether a consumed queue
        is done is `wait_empty`'s question."""
        with self.channel() as ch:
            ready = ch.queue_declare(queue, passive=True).method.message_count
        return int(ready)

    def wait_empty(self, *queues: str, timeout: float = 90.0) -> None:
        """Wait until whatever `queues` held when this was called has left them all, acked or
        dead-lettered: nothing ready, nothing unacked. Name them in the order messages flow
        between them (an event queue before its task queue). Takes 5-10 s per queue on a node
        with the default statistics interval (broker/queue_stats.py says why)."""
        with self.channel() as ch, self.management() as api:
            queue_stats.watch(
                ch,
                api,
                self.vhost,
                queues,
                queue_stats.drained,
                timeout=timeout,
                what=f"{', '.join(queues)} to hold nothing, neither ready nor unacked",
            )

    def messages(self, *queues: str, timeout: float = 90.0) -> dict[str, int]:
        """What each of `queues` holds, ready + unacked, at a moment after this was called (each
        its own moment: compare them only while their consumers are stopped)."""
        with self.channel() as ch, self.management() as api:
            found = queue_stats.watch(
                ch,
                api,
                self.vhost,
                queues,
                queue_stats.counts,
                timeout=timeout,
                what=f"statistics of {', '.join(queues)} newer than the question",
            )
        return dict(zip(queues, found, strict=True))

    def publish_event(
        self,
        envelope: Envelope[Any],
        exchange: str = "orders",
        routing_key: str | None = None,
        priority: int | None = None,
    ) -> None:
        self.publish_raw(
            envelope.to_json_bytes(),
            exchange=exchange,
            routing_key=routing_key or envelope.type,
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,
                message_id=envelope.id,
                type=envelope.type,
                headers={"correlation_id": envelope.correlationid},
                priority=priority,
            ),
        )

    def publish_raw(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: pika.BasicProperties | None = None,
    ) -> None:
        with self.channel() as ch:
            ch.confirm_delivery()
            ch.basic_publish(
                exchange,
                routing_key,
                body,
                properties or pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )

    @contextmanager
    def tap(self, exchange: str, routing_key: str) -> Iterator[Tap]:
        """A queue of the test's own, bound beside the real ones while the block runs: it gets a
        copy of everything published to `exchange` with `routing_key` (exclusive, so it goes
        with the block's connection)."""
        conn = pika.BlockingConnection(self.params())
        try:
            channel = conn.channel()
            name = channel.queue_declare("", exclusive=True).method.queue
            channel.queue_bind(name, exchange, routing_key)
            yield Tap(channel, name)
        finally:
            if conn.is_open:
                conn.close()

    def drain(self, queue: str, limit: int = 10_000) -> list[tuple[Any, bytes]]:
        """Take every message now in `queue` (acked): [(properties, body)]."""
        out: list[tuple[Any, bytes]] = []
        with self.channel() as ch:
            for _ in range(limit):
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is None:
                    break
                out.append((props, body))
        return out

    def purge_all(self) -> None:
        with self.channel() as ch:
            for q in self.topology.queues:
                ch.queue_purge(q.name)


@dataclass(frozen=True)
class Tap:
    channel: BlockingChannel
    queue: str

    def count(self) -> int:
        """Messages copied here so far (a passive declare: no statistics delay)."""
        return int(self.channel.queue_declare(self.queue, passive=True).method.message_count)

    def take(self) -> list[tuple[Any, bytes]]:
        """Every message copied here so far: [(properties, body)]."""
        out: list[tuple[Any, bytes]] = []
        while True:
            method, props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return out
            out.append((props, body))


def event_body(data: EventData, **kw: Any) -> bytes:
    return Envelope.wrap(data, **kw).to_json_bytes()


def x_death_reason(props: Any) -> str | None:
    deaths = (props.headers or {}).get("x-death") or []
    return str(deaths[0]["reason"]) if deaths else None


def loads(body: bytes) -> Any:
    return json.loads(body)
