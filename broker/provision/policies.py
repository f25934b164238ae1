"""Policies: put the ones that are missing or differ, delete the ones the definition does not have.

Dead-lettering and alternate exchanges live in policies, not in queue or exchange arguments, so
they can change on a live vhost without redeclaring anything.
"""

from __future__ import annotations

from functools import partial

from broker.provision.plan import Broker, Change
from services.common.topology import Policy, Topology


def plan_policies(broker: Broker, topology: Topology) -> list[Change]:
    have = {p["name"]: p for p in broker.list("policies")}
    changes: list[Change] = []
    for pol in topology.policies:
        body = _body(pol)
        cur = have.get(pol.name)
        if ({k: cur.get(k) for k in body} if cur else None) != body:
            changes.append(
                Change(
                    f"put policy {pol.name}",
                    f"{pol.pattern} {pol.definition}",
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


def _body(pol: Policy) -> dict[str, object]:
    return {
        "pattern": pol.pattern,
        "definition": pol.definition,
        "priority": pol.priority,
        "apply-to": pol.apply_to,
    }
