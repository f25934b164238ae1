"""AMQP probes for the permission scenario: what a login may touch, derived from the topology.

Each probe runs on a fresh connection as one login; the broker's answer to a refused operation is
a 403 ACCESS_REFUSED channel close, which `outcome` returns instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from services.common import topology as t
from tests.support.broker import TestBroker

TOP = t.build(t.DEFAULT_VHOST)  # names do not depend on the vhost; logins do
QUEUES = [q.name for q in TOP.queues]
EXCHANGES = [e.name for e in TOP.exchanges]
Probe = Callable[[BlockingChannel], object]


def own_queues(who: t.Service) -> list[str]:
    consumed = [q for q, _, _ in t.EVENT_SUBSCRIPTIONS.get(who, ())]
    return consumed + ([t.task_queue(who)] if who in t.WORKER_SERVICES else [])


def own_exchanges(who: t.Service) -> list[str]:
    events = [ex for ex, _ in t.EVENT_PUBLICATIONS.get(who, ())]
    return events + ([t.task_queue(who)] if who in t.WORKER_SERVICES else [])


def cases(make: Callable[[t.Service], list[str]]) -> list[Any]:
    return [pytest.param(s, n, id=f"{s}-{n}") for s in t.Service for n in make(s)]


def foreign_keys(who: t.Service) -> list[tuple[str, str]]:
    """(exchange, key): the service's own event exchanges with keys its topic permission must
    refuse: every other exchange's events, wildcards, and look-alikes of its own keys. (Not
    filtered through the pattern itself: a pattern grown too broad must fail here.)"""
    every_key = {k for keys in t.EVENT_EXCHANGES.values() for k in keys}
    out = []
    for exchange, _ in t.EVENT_PUBLICATIONS.get(who, ()):
        mine = t.EVENT_EXCHANGES[exchange]
        tricky = {"#", "*", "", f"{mine[0]}.extra", f"{mine[0]}.#", "x.y"}
        out += [(exchange, k) for k in sorted((every_key - set(mine)) | tricky)]
    return out


def outcome(broker: TestBroker, who: str, probe: Probe) -> tuple[int, str] | None:
    """None if the broker let `who` do it, else the (code, text) of the channel close."""
    with broker.channel(t.user_name(broker.vhost, who)) as ch:
        try:
            probe(ch)
        except pika.exceptions.ChannelClosedByBroker as exc:
            return exc.reply_code, exc.reply_text
    return None


def refused(broker: TestBroker, who: str, probe: Probe) -> None:
    result = outcome(broker, who, probe)
    assert result is not None, f"{who} was allowed"
    assert result[0] == 403, result
    assert "ACCESS_REFUSED" in result[1]


def publish(exchange: str, key: str) -> Probe:
    def probe(ch: BlockingChannel) -> None:
        ch.confirm_delivery()  # a refused publish closes the channel before the confirm
        ch.basic_publish(exchange, key, b"{}", pika.BasicProperties(delivery_mode=2))

    return probe
