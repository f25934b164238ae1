"""The whole plan: everything that differs between the broker and a `Topology`, in the order it
must be applied (the vhost, then users, then exchanges before the queues and bindings that name
them, then policies)."""

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
    changes = _vhost(api, topology.vhost)
    # Nothing in the vhost can be read before it exists.
    broker = Broker(api, topology.vhost, vhost_exists=not changes)
    return (
        changes
        + plan_users(broker, topology.users, settings)
        + plan_exchanges(broker, topology)
        + plan_queues(broker, topology)
        + plan_bindings(broker, topology)
        + plan_policies(broker, topology)
    )


def _vhost(api: ManagementClient, vhost: str) -> list[Change]:
    if api.get(api.path("vhosts", vhost)) is not None:
        return []
    return [Change(f"create vhost {vhost}", "", partial(api.put, api.path("vhosts", vhost), {}))]
