"""The vhost tool against the real broker: it builds the topology, is idempotent, finds drift,
and the resulting topology routes, dead-letters and refuses access as designed."""

from __future__ import annotations

from functools import partial

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from broker.provision import run as provision
from services.common import topology as t
from tests.support.broker import TestBroker, x_death_reason
from tests.support.polling import wait_until


def _run(command: str, vhost: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    return provision(command, vhost, out=lines.append), lines


def test_topology_exists_after_apply(broker: TestBroker) -> None:
    with broker.management() as api:
        queues = {q["name"]: q for q in api.get(api.path("queues", broker.vhost)) or []}
        exchanges = {e["name"]: e for e in api.get(api.path("exchanges", broker.vhost)) or []}
        policies = {p["name"]: p for p in api.get(api.path("policies", broker.vhost)) or []}
    for q in broker.topology.queues:
        assert queues[q.name]["durable"], q.name
    assert exchanges[t.ORDERS_EXCHANGE]["type"] == "topic"
    assert exchanges[t.ORDERS_EXCHANGE]["durable"]
    for q in broker.topology.queues:
        if q.dead_letter_exchange:
            assert policies[f"dead-letter.{q.name}"]["definition"] == {
                "dead-letter-exchange": q.dead_letter_exchange,
                "dead-letter-routing-key": q.name,
            }
            # The broker applies the policy to the live queue (stats refresh every few seconds).
            wait_until(
                partial(_has_live_policy, broker, q.name),
                timeout=30,
                interval=0.5,
                message=f"policy applied to {q.name}",
            )


def _has_live_policy(broker: TestBroker, queue: str) -> bool:
    with broker.management() as api:
        info = api.queue(broker.vhost, queue) or {}
    return bool(info.get("policy") == f"dead-letter.{queue}")


def test_second_apply_changes_nothing(broker: TestBroker) -> None:
    code, lines = _run("apply", broker.vhost)
    assert code == 0
    assert lines == [f"vhost {broker.vhost}: already in sync, nothing changed"]
    code, lines = _run("check", broker.vhost)
    assert (code, lines) == (0, [f"vhost {broker.vhost}: in sync"])


def test_a_live_api_queue_is_neither_drift_nor_unbound_by_apply(broker: TestBroker) -> None:
    """Each API process binds its own server-named queue to the live order events: apply must
    leave those bindings alone (it would cut every open order page off), check must not report
    them. Nobody else can bind to such a queue: it is exclusive to its connection, and `amq.*`
    names cannot be declared by clients."""
    storefront = t.user_name(broker.vhost, t.STOREFRONT)
    with broker.channel(storefront) as ch:
        queue = ch.queue_declare("", exclusive=True).method.queue
        for key in t.LIVE_ROUTING_KEYS:
            ch.queue_bind(queue, t.LIVE_EXCHANGE, key)
        assert _run("check", broker.vhost) == (0, [f"vhost {broker.vhost}: in sync"])
        assert _run("apply", broker.vhost)[0] == 0
        with broker.management() as api:
            bindings = api.get(api.path("bindings", broker.vhost)) or []
        kept = {b["routing_key"] for b in bindings if b["destination"] == queue}
        assert kept == set(t.LIVE_ROUTING_KEYS) | {queue}  # | the default exchange's binding


def test_check_reports_drift_and_apply_repairs_it(broker: TestBroker) -> None:
    with broker.management() as api:
        api.delete(api.path("policies", broker.vhost, f"dead-letter.{t.EMAIL_EVENTS_QUEUE}"))
        api.post(
            api.path(
                "bindings", broker.vhost, "e", t.ORDERS_EXCHANGE, "q", t.INVENTORY_EVENTS_QUEUE
            ),
            {"routing_key": "order.#", "arguments": {}},
        )
        api.put(
            api.path("permissions", broker.vhost, t.user_name(broker.vhost, "inventory")),
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
    code, lines = _run("check", broker.vhost)
    assert code == 1
    text = "\n".join(lines)
    assert f"put policy dead-letter.{t.EMAIL_EVENTS_QUEUE}" in text
    assert f"unbind orders -> {t.INVENTORY_EVENTS_QUEUE}" in text
    assert "set permissions of" in text
    assert "3 difference(s)" in text

    code, _ = _run("apply", broker.vhost)
    assert code == 0
    assert _run("check", broker.vhost)[0] == 0


def test_check_reports_unexpected_queue_without_deleting_it(broker: TestBroker) -> None:
    with broker.channel() as ch:
        ch.queue_declare("stray.queue", durable=True)
    try:
        code, lines = _run("check", broker.vhost)
        assert code == 1
        assert any("unexpected queue stray.queue" in line for line in lines)
        code, lines = _run("apply", broker.vhost)
        assert code == 2  # apply cannot decide to delete a queue that may hold messages
        assert any("needs you: unexpected queue stray.queue" in line for line in lines)
    finally:
        with broker.channel() as ch:
            ch.queue_delete("stray.queue")


def test_order_placed_reaches_inventory_and_email(broker: TestBroker) -> None:
    orders_user = t.user_name(broker.vhost, t.Service.ORDERS)
    with broker.channel(orders_user) as ch:
        ch.confirm_delivery()
        ch.basic_publish(
            t.ORDERS_EXCHANGE,
            t.ORDER_PLACED,
            b"{}",
            pika.BasicProperties(delivery_mode=2),
            mandatory=True,
        )
    assert [b for _, b in broker.drain(t.INVENTORY_EVENTS_QUEUE)] == [b"{}"]
    assert [b for _, b in broker.drain(t.EMAIL_EVENTS_QUEUE)] == [b"{}"]
    assert broker.ready(t.ORDERS_UNROUTABLE_QUEUE) == 0


@pytest.mark.parametrize(
    "queue", [t.INVENTORY_EVENTS_QUEUE, t.EMAIL_EVENTS_QUEUE, t.task_queue(t.Service.INVENTORY)]
)
def test_rejected_message_lands_in_its_own_dlq(broker: TestBroker, queue: str) -> None:
    spec = broker.topology.queue(queue)
    assert spec.owner is not None
    with broker.channel() as ch:
        ch.confirm_delivery()
        ch.basic_publish("", queue, b"poison", pika.BasicProperties(delivery_mode=2))
    with broker.channel(t.user_name(broker.vhost, spec.owner)) as ch:
        method, _, body = ch.basic_get(queue)
        assert body == b"poison"
        ch.basic_reject(method.delivery_tag, requeue=False)
    dead = broker.drain(spec.dead_letter_queue)
    assert [b for _, b in dead] == [b"poison"]
    assert x_death_reason(dead[0][0]) == "rejected"
    assert dead[0][0].headers["x-death"][0]["queue"] == queue
    others = [d for d in broker.topology.dead_letter_queues if d != spec.dead_letter_queue]
    assert all(broker.ready(d) == 0 for d in others)


def test_unroutable_message_is_kept_not_dropped(broker: TestBroker) -> None:
    with broker.channel(t.user_name(broker.vhost, t.Service.ORDERS)) as ch:
        ch.confirm_delivery()
        # No queue is bound for this key: the alternate exchange catches it; no basic.return.
        ch.basic_publish(
            t.ORDERS_EXCHANGE,
            "order.nobody_listens",
            b"lost?",
            pika.BasicProperties(delivery_mode=2),
            mandatory=True,
        )
    assert [b for _, b in broker.drain(t.ORDERS_UNROUTABLE_QUEUE)] == [b"lost?"]


def _attempt(ch: BlockingChannel, action: str) -> None:
    if action == "read-other-queue":
        ch.basic_get(t.EMAIL_EVENTS_QUEUE)
    elif action == "publish-foreign-exchange":
        ch.confirm_delivery()
        ch.basic_publish(t.ORDERS_EXCHANGE, t.ORDER_PLACED, b"{}")
    elif action == "declare-queue":
        ch.queue_declare("rogue.queue", durable=True)
    elif action == "publish-foreign-routing-key":
        ch.confirm_delivery()
        ch.basic_publish(t.ORDERS_EXCHANGE, "stock.reserved", b"{}")
    elif action == "delete-queue":
        ch.queue_delete(t.INVENTORY_EVENTS_QUEUE)


def _refused(broker: TestBroker, user: str, action: str) -> None:
    with broker.channel(user) as ch, pytest.raises(pika.exceptions.ChannelClosedByBroker) as exc:
        _attempt(ch, action)
    assert exc.value.reply_code == 403, exc.value
    assert "ACCESS_REFUSED" in exc.value.reply_text


@pytest.mark.parametrize(
    ("who", "action"),
    [
        (t.Service.INVENTORY, "read-other-queue"),
        (t.Service.INVENTORY, "publish-foreign-exchange"),
        (t.Service.INVENTORY, "declare-queue"),
        (t.Service.INVENTORY, "delete-queue"),
        (t.Service.EMAIL, "publish-foreign-exchange"),
        (t.Service.ORDERS, "read-other-queue"),
        (t.Service.ORDERS, "publish-foreign-routing-key"),
        (t.MONITOR, "publish-foreign-exchange"),
        (t.MONITOR, "declare-queue"),
    ],
)
def test_least_privilege(broker: TestBroker, who: str, action: str) -> None:
    _refused(broker, t.user_name(broker.vhost, who), action)


def test_service_users_cannot_log_in_to_the_management_ui(broker: TestBroker) -> None:
    import httpx

    user = t.user_name(broker.vhost, t.Service.INVENTORY)
    resp = httpx.get(
        f"{broker.settings.management_url}/api/whoami", auth=(user, broker.passwords[user])
    )
    assert resp.status_code == 401
    monitor = t.user_name(broker.vhost, t.MONITOR)
    resp = httpx.get(
        f"{broker.settings.management_url}/api/queues/{broker.vhost}",
        auth=(monitor, broker.passwords[monitor]),
    )
    assert resp.status_code == 200
    assert {q["name"] for q in resp.json()} >= {t.INVENTORY_EVENTS_QUEUE, t.EMAIL_EVENTS_QUEUE}
