"""Invariants of the topology definition, checked without a broker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from broker.generated_docs import main as generated_docs_main
from broker.provision import password_matches
from broker.provision import run as provision
from broker.provision.policies import policy_body
from services.common import topology as t
from services.common.settings import BrokerSettings

TOP = t.build("shop", t.QueueType.CLASSIC)


def test_every_binding_names_defined_objects() -> None:
    exchanges = {e.name for e in TOP.exchanges}
    queues = {q.name for q in TOP.queues}
    for b in TOP.bindings:
        assert b.exchange in exchanges
        assert b.queue in queues


def test_every_consumed_queue_has_its_own_dead_letter_queue() -> None:
    consumed = [q for q in TOP.queues if q.owner is not None]
    assert consumed
    dlqs = [q.dead_letter_queue for q in consumed]
    assert len(set(dlqs)) == len(dlqs)
    for q in consumed:
        assert q.owner is not None
        assert q.dead_letter_exchange == t.dead_letter_exchange(q.owner)
        binding = t.Binding(q.dead_letter_exchange, q.dead_letter_queue, q.name)
        assert binding in TOP.bindings
        [policy] = [p for p in TOP.policies if re.fullmatch(p.pattern, q.name)]
        assert policy.definition["dead-letter-routing-key"] == q.name


def test_policies_match_exactly_one_object_each() -> None:
    names = [q.name for q in TOP.queues] + [e.name for e in TOP.exchanges]
    for p in TOP.policies:
        assert p.apply_to in {"queues", "exchanges"}  # what RabbitMQ 3.10 understands
        assert len([n for n in names if re.fullmatch(p.pattern, n)]) <= 2  # queue + same-name ex


@pytest.mark.parametrize(
    ("service", "kind", "resource", "allowed"),
    [
        (t.Service.INVENTORY, "read", t.INVENTORY_EVENTS_QUEUE, True),
        (t.Service.INVENTORY, "read", t.EMAIL_EVENTS_QUEUE, False),
        (t.Service.INVENTORY, "write", t.ORDERS_EXCHANGE, False),
        (t.Service.INVENTORY, "write", "inventory.tasks", True),
        (t.Service.INVENTORY, "write", "email.tasks", False),
        (t.Service.INVENTORY, "configure", t.INVENTORY_EVENTS_QUEUE, False),
        (t.Service.INVENTORY, "configure", "inventory@host.celery.pidbox", True),
        (t.Service.INVENTORY, "configure", "email@host.celery.pidbox", False),
        (t.Service.ORDERS, "write", t.ORDERS_EXCHANGE, True),
        (t.Service.ORDERS, "read", t.INVENTORY_EVENTS_QUEUE, False),
        (t.Service.EMAIL, "read", t.EMAIL_EVENTS_QUEUE, True),
        (t.Service.EMAIL, "write", "amq.default", False),
    ],
)
def test_permissions(service: t.Service, kind: str, resource: str, allowed: bool) -> None:
    perms = TOP.user(service).permissions
    assert bool(re.search(getattr(perms, kind), resource)) is allowed


def test_only_the_orders_service_may_publish_order_keys() -> None:
    [topic] = TOP.user(t.Service.ORDERS).topic_permissions
    assert topic.exchange == t.ORDERS_EXCHANGE
    assert re.search(topic.write, t.ORDER_PLACED)
    assert not re.search(topic.write, "stock.reserved")


def test_queue_type_is_one_setting() -> None:
    assert t.build("shop", t.QueueType.QUORUM).queue_type is t.QueueType.QUORUM


@pytest.mark.parametrize(("line", "expected"), [("", "classic"), ("quorum", "quorum")])
def test_the_vhost_tool_takes_the_queue_type_from_the_env_file(
    line: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"BROKER_QUEUE_TYPE={line}\n" if line else "")
    monkeypatch.delenv("BROKER_QUEUE_TYPE", raising=False)
    # What SHOPFLOW_ENV_FILE selects when the settings module is imported (`make provision`: .env)
    monkeypatch.setitem(BrokerSettings.model_config, "env_file", env_file)
    lines: list[str] = []
    assert provision("show", "shop", out=lines.append) == 0
    assert json.loads("\n".join(lines))["queue_type"] == expected


def test_password_hash_comparison() -> None:
    # RabbitMQ's sha256 scheme: base64(salt + sha256(salt + password))
    import base64
    import hashlib

    salt = b"\x01\x02\x03\x04"
    stored = base64.b64encode(salt + hashlib.sha256(salt + b"s3cret").digest()).decode()
    assert password_matches(stored, "s3cret", "rabbit_password_hashing_sha256")
    assert not password_matches(stored, "other", "rabbit_password_hashing_sha256")
    assert not password_matches(stored, "s3cret", "unknown")


def test_generated_docs_are_current() -> None:
    assert generated_docs_main(["--check"]) == 0, "run: python -m broker.generated_docs"


QUORUM = t.build("shop", t.QueueType.QUORUM)
QUORUM_ONLY_KEYS = {"dead-letter-strategy", "delivery-limit", "queue-leader-locator"}


def _policy_of(top: t.Topology, queue: str) -> t.Policy:
    [policy] = [
        p for p in top.policies if p.apply_to == "queues" and re.fullmatch(p.pattern, queue)
    ]
    return policy


def test_classic_policies_have_no_key_a_classic_queue_would_skip_them_for() -> None:
    # RabbitMQ 3.10: a classic queue ignores a whole policy with a quorum-only key, and with it
    # its dead-letter settings (docs/scaling.md)
    for p in TOP.policies:
        assert not QUORUM_ONLY_KEYS & set(p.definition), p.name
    assert TOP.queue_arguments == {"x-queue-type": "classic"}


def test_quorum_working_queues_dead_letter_at_least_once_with_a_delivery_limit() -> None:
    assert QUORUM.queue_arguments == {"x-queue-type": "quorum"}
    for q in (q for q in QUORUM.queues if q.dead_letter_exchange):
        assert _policy_of(QUORUM, q.name).definition == {
            "dead-letter-exchange": q.dead_letter_exchange,
            "dead-letter-routing-key": q.name,
            "dead-letter-strategy": "at-least-once",
            "overflow": "reject-publish",  # with drop-head, at-least-once falls back silently
            "delivery-limit": t.DELIVERY_LIMIT,
            "queue-leader-locator": "balanced",
        }


def test_quorum_sinks_never_drop_a_message_at_a_delivery_limit() -> None:
    sinks = [q for q in QUORUM.queues if not q.dead_letter_exchange]
    assert {q.name for q in sinks} >= set(QUORUM.dead_letter_queues)
    for q in sinks:
        definition = _policy_of(QUORUM, q.name).definition
        assert definition["delivery-limit"] == t.UNLIMITED_DELIVERIES
        assert "dead-letter-exchange" not in definition


def test_the_queue_type_changes_nothing_but_queue_policies() -> None:
    assert (QUORUM.exchanges, QUORUM.queues, QUORUM.bindings, QUORUM.users) == (
        TOP.exchanges,
        TOP.queues,
        TOP.bindings,
        TOP.users,
    )
    exchange_policies = [p for p in TOP.policies if p.apply_to == "exchanges"]
    assert [p for p in QUORUM.policies if p.apply_to == "exchanges"] == exchange_policies


@pytest.mark.parametrize(
    ("version", "sink", "working"),
    [((3, 10), None, 20), ((3, 13), None, 20), ((4, 0), -1, 20), ((4, 3), -1, 20)],
)
def test_no_limit_is_spelled_for_the_broker(
    version: tuple[int, int], sink: int | None, working: int
) -> None:
    """RabbitMQ 4 says "no limit" with -1; RabbitMQ 3 refuses -1 and has no limit by default."""
    for queue, expected in (("inventory.orders.dlq", sink), ("inventory.orders", working)):
        body = policy_body(_policy_of(QUORUM, queue), version)
        definition = body["definition"]
        assert isinstance(definition, dict)
        assert definition.get("delivery-limit") == expected
