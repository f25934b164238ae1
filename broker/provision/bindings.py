"""Bindings from exchanges to queues: add the missing ones; remove those from our exchanges that
the definition does not have (a stray binding on an event exchange would copy events to a queue
that should not see them).

One kind of binding is not the vhost tool's: each orders API process binds its own exclusive,
server-named queue (`amq.gen-…`) to the live order events (docs/storefront.md). Such a binding
lives and dies with that process's connection; it is expected, never drift, and never removed.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from broker.provision.plan import Broker, Change
from services.common.topology import (
    LIVE_EXCHANGE,
    LIVE_ROUTING_KEYS,
    SERVER_NAMED_QUEUE,
    Topology,
)

_Key = tuple[str, str, str]  # (exchange, queue, routing key)


def plan_bindings(broker: Broker, topology: Topology) -> list[Change]:
    have = [b for b in broker.list("bindings") if b["source"] and b["destination_type"] == "queue"]
    wanted = {(b.exchange, b.queue, b.routing_key) for b in topology.bindings}
    missing = wanted - {_key(b) for b in have}
    ours = {ex.name for ex in topology.exchanges}
    extra = [
        b for b in have if b["source"] in ours and _key(b) not in wanted and not _live_updates(b)
    ]
    return [_bind(broker, key) for key in sorted(missing)] + [_unbind(broker, b) for b in extra]


def _live_updates(binding: dict[str, Any]) -> bool:
    """A running API process's own queue, bound to an order event a browser page follows."""
    source, dest, routing_key = _key(binding)
    return (
        source == LIVE_EXCHANGE
        and routing_key in LIVE_ROUTING_KEYS
        and re.fullmatch(SERVER_NAMED_QUEUE, dest) is not None
    )


def _key(binding: dict[str, Any]) -> _Key:
    return binding["source"], binding["destination"], binding["routing_key"]


def _bind(broker: Broker, key: _Key) -> Change:
    source, dest, routing_key = key
    return Change(
        f"bind {source} -> {dest}",
        f"routing key {routing_key!r}",
        partial(
            broker.api.post,
            broker.path("bindings", broker.vhost, "e", source, "q", dest),
            {"routing_key": routing_key, "arguments": {}},
        ),
    )


def _unbind(broker: Broker, binding: dict[str, Any]) -> Change:
    source, dest, routing_key = _key(binding)
    path = broker.path("bindings", broker.vhost, "e", source, "q", dest, binding["properties_key"])
    return Change(
        f"unbind {source} -> {dest}",
        f"routing key {routing_key!r} is not in the definition",
        partial(broker.api.delete, path),
    )
