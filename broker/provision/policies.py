"""Policies: put the ones that are missing or differ, delete the ones the definition does not have.

Dead-lettering and alternate exchanges live in policies, not in queue or exchange arguments, so
they can change on a live vhost without redeclaring anything.

The definition speaks RabbitMQ 4 (`delivery-limit: -1` is "no limit"). RabbitMQ 3 refuses -1 in
a policy and sets no limit by default, so there the key is left out: the same meaning on both.
"""

from __future__ import annotations

from functools import partial

from broker.provision.plan import Broker, Change
from services.common.topology import UNLIMITED_DELIVERIES, Policy, Topology


def plan_policies(broker: Broker, topology: Topology) -> list[Change]:
    have = {p["name"]: p for p in broker.list("policies")}
    changes: list[Change] = []
    for pol in topology.policies:
        body = policy_body(pol, broker.version)
        cur = have.get(pol.name)
        if ({k: cur.get(k) for k in body} if cur else None) != body:
            changes.append(
                Change(
                    f"put policy {pol.name}",
                    f"{pol.pattern} {body['definition']}",
                    partial(broker.api.put, broker.path("policies", broker.vhost, pol.name), body),
                )
            )
    for name in have.keys() - {p.name for p in topology.policies}:
        changes.append(
            Change(
                f"delete policy {name}",
                "not in the definition",
                partial(broker.api.delete, broker.path("policies", broker.vhost, name)),
            )
        )
    return changes


def policy_body(pol: Policy, version: tuple[int, int]) -> dict[str, object]:
    """The management API's body for `pol` on a broker of `version` (major, minor)."""
    return {
        "pattern": pol.pattern,
        "definition": definition_for(pol.definition, version),
        "priority": pol.priority,
        "apply-to": pol.apply_to,
    }


def definition_for(definition: dict[str, str | int], version: tuple[int, int]) -> dict[str, object]:
    if version >= (4, 0):
        return dict(definition)
    return {
        key: value
        for key, value in definition.items()
        if not (key == "delivery-limit" and value == UNLIMITED_DELIVERIES)
    }
