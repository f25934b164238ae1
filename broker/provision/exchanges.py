"""Exchanges: create the missing ones; report, never delete, the ones that differ or are extra."""

from __future__ import annotations

from functools import partial
from typing import Any

from broker.provision.plan import Broker, Change
from services.common.topology import Exchange, Topology

# Objects that Celery workers and clients declare for themselves; not drift.
_SELF_DECLARED_EXCHANGES = {"celeryev", "celery.pidbox", "reply.celery.pidbox"}


def plan_exchanges(broker: Broker, topology: Topology) -> list[Change]:
    have = {e["name"]: e for e in broker.list("exchanges")}
    changes = [
        change
        for ex in topology.exchanges
        if (change := _exchange_change(broker, ex, have.get(ex.name))) is not None
    ]
    known = {ex.name for ex in topology.exchanges} | _SELF_DECLARED_EXCHANGES
    for name, cur in have.items():
        if name and not name.startswith("amq.") and name not in known and cur["durable"]:
            changes.append(Change(f"unexpected exchange {name}", "not in the definition", None))
    return changes


def _exchange_change(broker: Broker, ex: Exchange, cur: dict[str, Any] | None) -> Change | None:
    if cur is None:
        body = {
            "type": ex.type,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }
        return Change(
            f"create exchange {ex.name}",
            ex.type,
            partial(broker.api.put, broker.path("exchanges", broker.vhost, ex.name), body),
        )
    shape = (cur["type"], cur["durable"], cur["auto_delete"], cur.get("arguments") or {})
    if shape == (ex.type, True, False, {}):
        return None
    return Change(
        f"exchange {ex.name} differs",
        f"is {cur['type']} durable={cur['durable']} args={cur.get('arguments')}; "
        "delete it by hand to let apply recreate it",
        None,
    )
