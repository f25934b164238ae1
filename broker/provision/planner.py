"""The whole plan: everything that differs between the broker and a `Topology`, in the order it
must be applied: the vhost, then users, then exchanges before the queues and bindings that name
them. Policies come before queues, because a few policy keys act only when a queue is declared
(`queue-leader-locator` places a new quorum queue's leader), and a queue declared under its
policy is never without its dead-letter settings."""

from __future__ import annotations

from functools import partial

from broker.management import ManagementClient
from broker.provision.bindings import plan_bindings
from broker.provision.exchanges import plan_exchanges
from broker.provision.plan import Broker, Change
from broker.provision.policies import plan_policies
from broker.provision.queues import plan_queues
from broker.provision.users import plan_users
from broker.settings import ProvisionSettings
from services.common.topology import Topology


def plan(api: ManagementClient, topology: Topology, settings: ProvisionSettings) -> list[Change]:
    broker = view(api, topology.vhost)
    return (
        _vhost(broker)
        + plan_users(broker, topology.users, settings)
        + plan_exchanges(broker, topology)
        + plan_policies(broker, topology)
        + plan_queues(broker, topology)
        + plan_bindings(broker, topology)
    )


def view(api: ManagementClient, vhost: str) -> Broker:
    """The broker as seen from `vhost` (nothing in the vhost can be read before it exists)."""
    exists = api.get(api.path("vhosts", vhost)) is not None
    return Broker(api, vhost, exists, api.rabbitmq_version())


def _vhost(broker: Broker) -> list[Change]:
    if broker.vhost_exists:
        return []
    path = broker.path("vhosts", broker.vhost)
    return [Change(f"create vhost {broker.vhost}", "", partial(broker.api.put, path, {}))]
