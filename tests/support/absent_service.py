"""A service that has not joined yet: a provisioned vhost with everything of that service taken
out again through the management API, as the vhost looked before the service was added.

What belongs to a service is read off the topology, not listed: the queues it consumes, its
exchanges, the exchanges they need (its dead-letter exchange, its exchanges' alternates), the
queues only those exchanges feed (its DLQs, its unroutable sink), its exchanges' event logs, the
policies that name any of these, and its login. Another service's queue bound to one of its
exchanges stays (that service's running worker consumes it) and loses the binding with the
exchange: nothing reaches it until the vhost tool binds it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from broker.management import ManagementClient
from services.common.topology import Service, Topology


@dataclass(frozen=True)
class ServiceObjects:
    """The names of what a service has in a vhost."""

    login: str
    exchanges: tuple[str, ...]
    queues: tuple[str, ...]  # its event logs included: a stream is a queue to the broker
    policies: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.login, *self.exchanges, *self.queues, *self.policies)


def objects_of(topology: Topology, service: Service) -> ServiceObjects:
    owned = [q for q in topology.queues if q.owner is service]
    exchanges = [e.name for e in topology.exchanges if e.owner is service]
    exchanges += [e.alternate for e in topology.exchanges if e.owner is service and e.alternate]
    exchanges += sorted({q.dead_letter_exchange for q in owned if q.dead_letter_exchange})
    fed_only_by_them = [
        q.name
        for q in topology.queues
        if q.owner is None
        and topology.bindings_of(q.name)
        and all(b.exchange in exchanges for b in topology.bindings_of(q.name))
    ]
    logs = [s.name for s in topology.streams if s.exchange in exchanges]
    queues = [q.name for q in owned] + fed_only_by_them + logs
    policies = [
        p.name
        for p in topology.policies
        if any(re.search(p.pattern, name) for name in (*exchanges, *queues))
    ]
    return ServiceObjects(
        topology.user(service).name, tuple(exchanges), tuple(queues), tuple(policies)
    )


def remove(api: ManagementClient, topology: Topology, service: Service) -> ServiceObjects:
    """Delete everything of `service` from `topology`'s vhost (provisioned); bindings go with
    their queues and exchanges, permissions with the login."""
    gone = objects_of(topology, service)
    vhost = topology.vhost
    for policy in gone.policies:
        api.delete(api.path("policies", vhost, policy))
    for queue in gone.queues:
        api.delete(api.path("queues", vhost, queue))
    for exchange in gone.exchanges:
        api.delete(api.path("exchanges", vhost, exchange))
    api.delete_user(gone.login)
    return gone


def present(api: ManagementClient, topology: Topology, objects: ServiceObjects) -> list[str]:
    """Which of `objects` the vhost has (none, for a service that has not joined)."""
    vhost = topology.vhost
    kinds = [
        *(("exchanges", name) for name in objects.exchanges),
        *(("queues", name) for name in objects.queues),
        *(("policies", name) for name in objects.policies),
    ]
    found = [name for kind, name in kinds if api.get(api.path(kind, vhost, name)) is not None]
    if api.get(api.path("users", objects.login)) is not None:
        found.append(objects.login)
    return found
