"""`python -m broker.provision migrate`: give every queue of the vhost the type the setting says
(`BROKER_QUEUE_TYPE`) and the priority lanes the topology gives it (`x-max-priority` on a
classic event queue: docs/priorities.md), keeping every message, then `apply` the rest.

A queue's type and its arguments are fixed when it is declared, so each queue of the other type
or with other lanes is rebuilt:

1. `<queue>.migrating` is declared (of the new type) and bound like the queue, and then the
   queue is unbound: from now on new messages wait in the holding queue. Bound first: a message
   published in between may land in both (the consumers' inbox makes the copy harmless). The
   other order could route an event to the other subscribers only, while this queue missed it.
2. Every message moves from the queue to the holding queue: a confirmed publish, then the ack.
3. The queue, now empty and unused, is deleted, its policy is put as the new type wants it, and
   it is declared again (the policy's leader placement acts then) and bound.
4. The holding queue is unbound, its messages move back, and it is deleted.

Each step starts from what it finds, so a migration that stopped half-way (Ctrl-C, a lost
connection) finishes when run again. Nothing may consume a queue while it is rebuilt: a message
a consumer held unacked would go with the deleted queue. So `migrate` refuses to start while any
queue it must rebuild has a consumer (stop the workers first; publishers may keep running), and
looks again, for messages and consumers, right before each delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from broker.provision.plan import Broker
from broker.provision.policies import policy_body
from broker.provision.queues import HOLDING_SUFFIX, lanes_differ, queue_type
from services.common.topology import MAX_PRIORITY_ARGUMENT, Topology

Out = Callable[[str], None]
# Broker-side delivery annotations: a moved message starts again from no redeliveries.
DELIVERY_COUNT_HEADERS = ("x-delivery-count", "x-acquired-count")


class MigrationRefused(RuntimeError):
    """The queues cannot be rebuilt now; the message says what to do first."""


class Migration:
    """Rebuilds queues of `topology` as the topology's queue type, over one admin connection."""

    def __init__(
        self, broker: Broker, topology: Topology, connection: BlockingConnection, out: Out
    ) -> None:
        self.broker, self.topology, self.out = broker, topology, out
        self.connection = connection
        self.channel = self._open_channel()

    def queue(self, name: str) -> None:
        """Steps 1 to 4 for queue `name`, from wherever an earlier run stopped."""
        hold, arguments = name + HOLDING_SUFFIX, self.topology.arguments_of(name)
        found = self.broker.api.queue(self.broker.vhost, name)
        if found is not None and rebuilt(self.topology, name, found):
            if self._type(hold) is None:
                self.channel.queue_declare(hold, durable=True, arguments=arguments)
            self._bind(hold, like=name)
            self._unbind(name, like=name)
            self._empty_into(name, hold, why=f"out of the old {queue_type(found)} queue")
            found = None
        if found is None:
            self._put_policy(name)
            # A new channel: RabbitMQ 3.10 keeps a channel's state of a deleted queue by name,
            # and its channel crashed (541) on the first get from the new queue of another type.
            self.channel.close()
            self.channel = self._open_channel()
            self.channel.queue_declare(name, durable=True, arguments=arguments)
        self._bind(name, like=name)
        if self._type(hold) is not None:
            self._unbind(hold, like=name)
            self._empty_into(hold, name, why="back")
        lanes = arguments.get(MAX_PRIORITY_ARGUMENT)
        with_lanes = f" with {MAX_PRIORITY_ARGUMENT} {lanes}" if lanes is not None else ""
        self.out(f"{name}: now a {self.topology.queue_type.value} queue{with_lanes}")

    def _empty_into(self, source: str, target: str, why: str) -> None:
        """Move everything from `source` to `target`, then delete `source` once it is seen
        empty and unused (a message that slipped in meanwhile moves on the next round).

        Quorum queues refuse `queue.delete` with `if-unused` (540 NOT_IMPLEMENTED, RabbitMQ
        3.10), so the check is a passive declare just before the delete. `source` has no
        binding left at that point: nothing publishes to it in between."""
        for _ in range(5):
            moved = move_messages(self.channel, source, target)
            self.out(f"{source}: {moved} message(s) moved {why} into {target}")
            found = self.channel.queue_declare(source, passive=True).method
            if found.message_count == 0 and found.consumer_count == 0:
                self.channel.queue_delete(source)
                return
        raise MigrationRefused(f"{source} keeps getting messages or a consumer: stop them first")

    def _open_channel(self) -> BlockingChannel:
        channel = self.connection.channel()
        channel.confirm_delivery()  # every move waits for the broker's confirm
        return channel

    def _type(self, name: str) -> str | None:
        found = self.broker.api.queue(self.broker.vhost, name)
        return None if found is None else queue_type(found)

    def _bind(self, queue: str, like: str) -> None:
        for b in self.topology.bindings_of(like):
            self.channel.queue_bind(queue, b.exchange, b.routing_key)

    def _unbind(self, queue: str, like: str) -> None:
        for b in self.topology.bindings_of(like):
            self.channel.queue_unbind(queue, b.exchange, b.routing_key)

    def _put_policy(self, name: str) -> None:
        """The queue's policy as the new type wants it, before the queue is declared again."""
        for pol in self.topology.policies:
            if pol.apply_to == "queues" and re.fullmatch(pol.pattern, name):
                path = self.broker.path("policies", self.broker.vhost, pol.name)
                self.broker.api.put(path, policy_body(pol, self.broker.version))


def move_messages(channel: BlockingChannel, source: str, target: str) -> int:
    """Every message now in `source`, republished unchanged to `target` through the default
    exchange and acked in `source` once the broker confirmed it (the channel is in confirm
    mode): none is lost; one may be doubled if the connection drops between the two."""
    moved = 0
    while True:
        method, properties, body = channel.basic_get(source, auto_ack=False)
        if method is None:
            return moved
        headers = properties.headers or {}
        for key in DELIVERY_COUNT_HEADERS:
            headers.pop(key, None)
        properties.headers = headers or None
        channel.basic_publish("", target, body, properties, mandatory=True)
        channel.basic_ack(method.delivery_tag)
        moved += 1


def rebuilt(topology: Topology, name: str, found: dict[str, Any]) -> bool:
    """Whether queue `name`, as found, must be rebuilt: its type or its priority lanes differ
    from the topology's, and neither can change in place."""
    return queue_type(found) != topology.queue_type.value or lanes_differ(topology, name, found)


def to_migrate(broker: Broker, topology: Topology) -> list[str]:
    """The topology's queues that exist with the other type or other priority lanes, or were
    left half-migrated."""
    have = {q["name"]: q for q in broker.list("queues")}
    return [
        q.name
        for q in topology.queues
        if (q.name in have and rebuilt(topology, q.name, have[q.name]))
        or q.name + HOLDING_SUFFIX in have
    ]


def refuse_if_consumed(channel: BlockingChannel, broker: Broker, names: list[str]) -> None:
    have = {q["name"] for q in broker.list("queues")}
    busy = []
    for name in names:
        for queue in (name, name + HOLDING_SUFFIX):
            if queue in have:
                count = channel.queue_declare(queue, passive=True).method.consumer_count
                if count:
                    busy.append(f"{queue} ({count})")
    if busy:
        raise MigrationRefused(
            f"queues with consumers: {', '.join(busy)}. A consumer's unacked messages would be "
            "lost with the old queue: stop the workers that read them first "
            "(`python -m runner stop NAME`), then run migrate again"
        )


def migrate(
    broker: Broker, topology: Topology, parameters: list[pika.URLParameters], out: Out
) -> None:
    """Rebuild every queue of the other type or with other priority lanes. Raises
    MigrationRefused, before touching any queue, when one of them has a consumer."""
    names = to_migrate(broker, topology)
    if not names:
        out(f"vhost {broker.vhost}: every queue is a {topology.queue_type.value} queue already")
        return
    connection = pika.BlockingConnection(parameters)
    try:
        migration = Migration(broker, topology, connection, out)
        refuse_if_consumed(migration.channel, broker, names)
        for name in names:
            migration.queue(name)
    finally:
        if connection.is_open:
            connection.close()
