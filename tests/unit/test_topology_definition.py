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
    queues = {q.name for q in TOP.queues} | {s.name for s in TOP.streams}
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
    names += [s.name for s in TOP.streams]
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


# ---- the event logs and their replays (docs/event-log.md) ------------------------------------


@pytest.mark.parametrize("top", [TOP, QUORUM], ids=["classic", "quorum"])
def test_every_event_exchange_has_a_stream_bound_with_each_of_its_event_types(
    top: t.Topology,
) -> None:
    assert [(s.name, s.exchange) for s in top.streams] == [
        (f"{exchange}.log", exchange) for exchange in t.EVENT_EXCHANGES
    ]
    for exchange, types in t.EVENT_EXCHANGES.items():
        stream = top.stream_of(exchange).name
        assert {b.routing_key for b in top.bindings_of(stream) if b.exchange == exchange} == set(
            types
        )  # no `#`: a key that is no event type still goes to `<exchange>.unroutable`
        assert t.Binding(t.REPLAY_MARKER_EXCHANGE, stream, stream) in top.bindings
    assert t.Stream.ARGUMENTS == {"x-queue-type": "stream"}  # whatever the queue type
    assert not {s.name for s in top.streams} & {q.name for q in top.queues}


def test_the_replay_exchange_reaches_each_event_queue_alone() -> None:
    queues = [q for subs in t.EVENT_SUBSCRIPTIONS.values() for q, _, _ in subs]
    replayed = [b for b in TOP.bindings if b.exchange == t.REPLAY_EXCHANGE]
    assert sorted((b.queue, b.routing_key) for b in replayed) == sorted((q, q) for q in queues)
    marked = [b for b in TOP.bindings if b.exchange == t.REPLAY_MARKER_EXCHANGE]
    assert {b.queue for b in marked} == {s.name for s in TOP.streams}
    kinds = {e.name: e.type for e in TOP.exchanges}
    assert (kinds[t.REPLAY_EXCHANGE], kinds[t.REPLAY_MARKER_EXCHANGE]) == ("direct", "direct")


@pytest.mark.parametrize("top", [TOP, QUORUM], ids=["classic", "quorum"])
def test_a_stream_follows_its_retention_policy_and_no_other(top: t.Topology) -> None:
    for stream in top.streams:
        [policy] = [p for p in top.policies if re.fullmatch(p.pattern, stream.name)]
        assert policy.name == f"event-log.{stream.name}"
        assert policy.apply_to == "queues"  # 3.10 has no `streams`; `queues` covers them on 4.x
        assert policy.definition == {"max-age": "30D", "max-length-bytes": 5_000_000_000}
    for q in top.queues:  # and no queue follows a stream's policy
        assert not any(
            re.fullmatch(p.pattern, q.name) for p in top.policies if p.name.startswith("event-log")
        )


@pytest.mark.parametrize(
    ("days", "spelled"),
    [(30, "30D"), (0.5, "12h"), (1 / 24 / 4, "15m"), (1.5 / 86_400, "2s"), (1e-9, "1s")],
)
def test_the_log_age_is_spelled_as_rabbitmq_reads_it(days: float, spelled: str) -> None:
    assert t.max_age(days) == spelled


def test_the_retention_is_passed_in_and_zero_means_no_limit() -> None:
    week = t.build("shop", log_retention=t.LogRetention(max_age_days=7, max_bytes=0))
    assert {p.name: p.definition for p in week.policies if p.name.startswith("event-log")} == {
        f"event-log.{s.name}": {"max-age": "7D"} for s in week.streams
    }
    unlimited = t.build("shop", log_retention=t.LogRetention(max_age_days=0, max_bytes=0))
    assert not [p for p in unlimited.policies if p.name.startswith("event-log")]


def test_the_vhost_tool_reads_the_log_retention_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENT_LOG_MAX_AGE_DAYS", "2")
    monkeypatch.setenv("EVENT_LOG_MAX_BYTES", "1000000")
    lines: list[str] = []
    assert provision("show", "shop", out=lines.append) == 0
    policies = json.loads("\n".join(lines))["policies"]
    assert {p["name"]: p["definition"] for p in policies if p["name"].startswith("event-log")} == {
        f"event-log.{exchange}.log": {"max-age": "2D", "max-length-bytes": 1_000_000}
        for exchange in t.EVENT_EXCHANGES
    }


@pytest.mark.parametrize(
    ("kind", "resource", "allowed"),
    [
        ("read", "orders.log", True),
        ("read", "inventory.log", True),
        ("write", t.REPLAY_EXCHANGE, True),
        ("write", t.REPLAY_MARKER_EXCHANGE, True),
        ("read", t.INVENTORY_EVENTS_QUEUE, False),
        ("read", f"{t.INVENTORY_EVENTS_QUEUE}.dlq", False),
        ("write", t.ORDERS_EXCHANGE, False),
        ("write", t.INVENTORY_EXCHANGE, False),
        ("write", "inventory.tasks", False),
        ("write", "amq.default", False),
        ("configure", "orders.log", False),
        ("configure", t.REPLAY_EXCHANGE, False),
    ],
)
def test_the_replay_login_reads_the_logs_and_writes_the_replay_exchanges_only(
    kind: str, resource: str, allowed: bool
) -> None:
    login = TOP.user(t.REPLAY)
    assert (login.name, login.tags, login.topic_permissions) == ("shop-replay", (), ())
    assert bool(re.search(getattr(login.permissions, kind), resource)) is allowed
