"""Scenario 11: each login is refused everywhere it does not belong, with real pika connections.

Every name comes from `services/common/topology.py`: a service may consume its own queues, publish
its own events (with its own routing keys) and its own tasks, and nothing else. Refusals are the
broker's ACCESS_REFUSED (a 403 channel close). Queue and exchange names do not depend on the
vhost, so the cases are derived at collection time from the `shop` definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery import Celery
from pika.adapters.blocking_connection import BlockingChannel
from pydantic import SecretStr

from services.common import topology as t
from services.common.settings import ServiceSettings, settings_class
from tests.reliability.fuzz_probes import (
    EXCHANGES,
    QUEUES,
    Probe,
    cases,
    foreign_keys,
    outcome,
    own_exchanges,
    own_queues,
    publish,
    refused,
)
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.processes import PYTHON, ServiceProcess, running

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module", autouse=True)
def celery_exchanges(test_broker: TestBroker) -> None:
    """The exchanges a Celery worker declares for itself, declared as kombu does (so a worker
    started later in the session finds them equal); no worker runs during these probes."""
    with test_broker.channel() as admin:
        admin.exchange_declare("celeryev", "topic", durable=True)
        admin.exchange_declare("celery.pidbox", "fanout", durable=False)
        admin.exchange_declare("reply.celery.pidbox", "direct", durable=False)


@pytest.fixture
def clean(broker: TestBroker) -> Iterator[TestBroker]:
    """For the probes that are allowed to publish: no message outlives the test."""
    yield broker
    broker.purge_all()


# ---- what each service needs, it has ---------------------------------------------------------


@pytest.mark.parametrize(("who", "queue"), cases(own_queues))
def test_a_service_consumes_its_own_queues(clean: TestBroker, who: t.Service, queue: str) -> None:
    assert outcome(clean, who, lambda ch: ch.basic_consume(queue, lambda *_: None)) is None


@pytest.mark.parametrize(
    ("who", "exchange", "key"),
    [
        pytest.param(s, ex, k, id=f"{s}-{ex}-{k}")
        for s, pubs in t.EVENT_PUBLICATIONS.items()
        for ex, _ in pubs
        for k in t.EVENT_EXCHANGES[ex]
    ]
    + [pytest.param(s, t.task_queue(s), t.task_queue(s), id=f"{s}-tasks") for s in t.Service],
)
def test_a_service_publishes_its_events_and_tasks(
    clean: TestBroker, who: t.Service, exchange: str, key: str
) -> None:
    assert outcome(clean, who, publish(exchange, key)) is None


@pytest.mark.parametrize("who", t.WORKER_SERVICES)
def test_a_worker_has_its_own_celery_internals(clean: TestBroker, who: t.Service) -> None:
    pidbox = f"{who}@probe-1.celery.pidbox"

    def remote_control_node(ch: BlockingChannel) -> None:
        ch.queue_declare(pidbox, exclusive=True, auto_delete=True)
        ch.queue_bind(pidbox, "celery.pidbox")
        ch.basic_consume(pidbox, lambda *_: None)
        publish("celeryev", "worker.heartbeat")(ch)  # task events, for Flower
        publish("reply.celery.pidbox", "flower-ticket")(ch)  # answers to Flower's inspect

    assert outcome(clean, who, remote_control_node) is None


@pytest.mark.parametrize("who", t.WORKER_SERVICES)
def test_a_worker_cannot_control_or_watch_other_workers(
    test_broker: TestBroker, who: t.Service
) -> None:
    """A broadcast on `celery.pidbox` reaches every worker of every service (`shutdown`...), and
    `celeryev` carries every service's task arguments: neither is a service's business."""
    pidbox = f"{who}@probe-2.celery.pidbox"

    def watch_task_events(ch: BlockingChannel) -> None:
        ch.queue_declare(pidbox, exclusive=True, auto_delete=True)
        ch.queue_bind(pidbox, "celeryev", "#")

    refused(test_broker, who, publish("celery.pidbox", ""))
    refused(test_broker, who, watch_task_events)
    for other in set(t.WORKER_SERVICES) - {who}:
        foreign = f"{other}@probe-3.celery.pidbox"
        refused(test_broker, who, lambda ch, q=foreign: ch.queue_declare(q, exclusive=True))  # type: ignore[misc]


# ---- and nothing else ------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "queue"), cases(lambda s: sorted(set(QUEUES) - {*own_queues(s)})))
def test_no_service_reads_another_queue_or_any_dlq(
    test_broker: TestBroker, who: t.Service, queue: str
) -> None:
    refused(test_broker, who, lambda ch: ch.basic_get(queue))
    refused(test_broker, who, lambda ch: ch.queue_purge(queue))


@pytest.mark.parametrize(
    ("who", "exchange"),
    cases(lambda s: sorted({"", "amq.topic", "celery.pidbox", *EXCHANGES} - {*own_exchanges(s)})),
)
def test_no_service_publishes_to_another_exchange(
    test_broker: TestBroker, who: t.Service, exchange: str
) -> None:
    key = next(iter(t.EVENT_EXCHANGES.get(exchange, ())), t.INVENTORY_EVENTS_QUEUE)
    refused(test_broker, who, publish(exchange, key))


@pytest.mark.parametrize(
    ("who", "exchange", "key"),
    [pytest.param(s, ex, k, id=f"{s}-{ex}-{k or 'empty'}") for s in t.Service
     for ex, k in foreign_keys(s)],
)  # fmt: skip
def test_topic_permissions_refuse_keys_outside_the_publication_pattern(
    test_broker: TestBroker, who: t.Service, exchange: str, key: str
) -> None:
    refused(test_broker, who, publish(exchange, key))


@pytest.mark.parametrize("who", [*t.Service, t.MONITOR, t.FLOWER, t.REPLAY])
def test_nobody_declares_deletes_or_taps(test_broker: TestBroker, who: str) -> None:
    """Configure on the topology is the vhost tool's alone; a server-named queue would be a tap."""
    mine = f"{who}.rogue"
    refused(test_broker, who, lambda ch: ch.queue_declare(mine, durable=True))
    refused(test_broker, who, lambda ch: ch.queue_declare("", exclusive=True))
    refused(test_broker, who, lambda ch: ch.exchange_declare(mine, "topic"))
    for queue in QUEUES:
        refused(test_broker, who, lambda ch, q=queue: ch.queue_delete(q))  # type: ignore[misc]
    for exchange in EXCHANGES:
        refused(test_broker, who, lambda ch, e=exchange: ch.exchange_delete(e))  # type: ignore[misc]


@pytest.mark.parametrize("who", [*t.Service, t.MONITOR, t.FLOWER, t.REPLAY])
def test_nobody_binds_a_queue_to_an_event_exchange(test_broker: TestBroker, who: str) -> None:
    """Binding needs write on the queue and read on the exchange: no login can route another
    service's events (or its own exchange's whole stream) into a queue it reads."""
    for queue in QUEUES:
        for exchange in t.EVENT_EXCHANGES:
            refused(test_broker, who, lambda ch, q=queue, e=exchange: ch.queue_bind(q, e, "#"))  # type: ignore[misc]


def test_the_monitor_reads_every_queue_and_writes_nothing(test_broker: TestBroker) -> None:
    for queue in QUEUES:
        assert outcome(test_broker, t.MONITOR, lambda ch, q=queue: ch.basic_get(q)) is None  # type: ignore[misc]
    for exchange in ["", *EXCHANGES]:
        refused(test_broker, t.MONITOR, publish(exchange, t.ORDER_PLACED))


def test_flower_reads_task_events_and_no_service_queue(test_broker: TestBroker) -> None:
    def tap_task_events(ch: BlockingChannel) -> None:
        ch.queue_declare("celeryev.probe", exclusive=True, auto_delete=True)
        ch.queue_bind("celeryev.probe", "celeryev", "#")
        ch.basic_consume("celeryev.probe", lambda *_: None)

    assert outcome(test_broker, t.FLOWER, tap_task_events) is None
    for queue in QUEUES:
        refused(test_broker, t.FLOWER, lambda ch, q=queue: ch.basic_get(q))  # type: ignore[misc]
    for exchange in ["", *EXCHANGES]:
        refused(test_broker, t.FLOWER, publish(exchange, t.ORDER_PLACED))


# ---- the orders API's live updates: its own server-named queue, a few order events -----------


def live_tap(keys: tuple[str, ...], exchange: str = t.LIVE_EXCHANGE) -> Probe:
    """What the API's bridge does: a server-named exclusive queue, bound with `keys`, consumed."""

    def probe(ch: BlockingChannel) -> None:
        queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        assert queue.startswith("amq.gen-")
        for key in keys:
            ch.queue_bind(queue, exchange, key)
        ch.basic_consume(queue, lambda *_: None, auto_ack=True)

    return probe


def test_the_storefront_reads_the_live_keys_through_a_server_named_queue(
    test_broker: TestBroker,
) -> None:
    assert outcome(test_broker, t.STOREFRONT, live_tap(t.LIVE_ROUTING_KEYS)) is None


@pytest.mark.parametrize(
    ("exchange", "key"),
    [(t.LIVE_EXCHANGE, k) for k in ("#", "*", "order.*", "order.#", "", t.ORDER_PLACED)]
    + [(t.LIVE_EXCHANGE, f"{t.LIVE_ROUTING_KEYS[0]}.x"), (t.INVENTORY_EXCHANGE, t.STOCK_RESERVED)]
    + [(ex, t.LIVE_ROUTING_KEYS[0]) for ex in EXCHANGES if ex != t.LIVE_EXCHANGE],
)
def test_the_storefront_binds_no_other_key_or_exchange(
    test_broker: TestBroker, exchange: str, key: str
) -> None:
    refused(test_broker, t.STOREFRONT, live_tap((key,), exchange))


def test_the_storefront_declares_only_server_named_queues(test_broker: TestBroker) -> None:
    """A name it chose would be a queue it could leave behind, or one another login reads."""
    for name in ["storefront.live", "amq.gen-chosen", *QUEUES]:
        refused(test_broker, t.STOREFRONT, lambda ch, q=name: ch.queue_declare(q, exclusive=True))  # type: ignore[misc]
    refused(test_broker, t.STOREFRONT, lambda ch: ch.exchange_declare("storefront.x", "fanout"))


@pytest.mark.parametrize("queue", QUEUES)
def test_the_storefront_touches_no_queue_of_the_topology(
    test_broker: TestBroker, queue: str
) -> None:
    key = t.LIVE_ROUTING_KEYS[0]
    refused(test_broker, t.STOREFRONT, lambda ch: ch.basic_get(queue))
    refused(test_broker, t.STOREFRONT, lambda ch: ch.queue_purge(queue))
    refused(test_broker, t.STOREFRONT, lambda ch: ch.queue_delete(queue))
    refused(test_broker, t.STOREFRONT, lambda ch: ch.queue_bind(queue, t.LIVE_EXCHANGE, key))


def test_the_storefront_publishes_nothing(test_broker: TestBroker) -> None:
    for exchange in ["", "amq.topic", "celeryev", *EXCHANGES]:
        refused(test_broker, t.STOREFRONT, publish(exchange, t.ORDER_CONFIRMED))


# ---- the event log's replay tool: reads the logs, writes the replay exchanges, nothing else --

LOGS = [t.event_log(exchange) for exchange in t.EVENT_EXCHANGES]
EVENT_QUEUES = [q for subs in t.EVENT_SUBSCRIPTIONS.values() for q, _, _ in subs]


def read_log(stream: str) -> Probe:
    """A stream consumer as the replay tool is one (from `next`: nothing arrives meanwhile)."""

    def probe(ch: BlockingChannel) -> None:
        ch.basic_qos(prefetch_count=10)
        ch.basic_consume(stream, lambda *_: None, arguments={"x-stream-offset": "next"})

    return probe


@pytest.mark.parametrize("stream", LOGS)
def test_the_replay_login_reads_the_logs_and_marks_them(clean: TestBroker, stream: str) -> None:
    assert outcome(clean, t.REPLAY, read_log(stream)) is None
    assert outcome(clean, t.REPLAY, publish(t.REPLAY_MARKER_EXCHANGE, stream)) is None


@pytest.mark.parametrize("queue", EVENT_QUEUES)
def test_the_replay_login_publishes_to_one_event_queue_through_the_replay_exchange(
    clean: TestBroker, queue: str
) -> None:
    assert outcome(clean, t.REPLAY, publish(t.REPLAY_EXCHANGE, queue)) is None
    assert clean.ready(queue) == 1
    assert all(clean.ready(q) == 0 for q in EVENT_QUEUES if q != queue)


def test_the_replay_login_publishes_to_no_other_exchange(test_broker: TestBroker) -> None:
    """Not the event exchanges (that would reach every subscriber), nor any other."""
    replays = {t.REPLAY_EXCHANGE, t.REPLAY_MARKER_EXCHANGE}
    for exchange in ["", "amq.topic", "celeryev", *sorted(set(EXCHANGES) - replays)]:
        key = next(iter(t.EVENT_EXCHANGES.get(exchange, ())), t.INVENTORY_EVENTS_QUEUE)
        refused(test_broker, t.REPLAY, publish(exchange, key))


@pytest.mark.parametrize("queue", QUEUES)
def test_the_replay_login_reads_no_queue_of_the_topology(
    test_broker: TestBroker, queue: str
) -> None:
    refused(test_broker, t.REPLAY, lambda ch: ch.basic_get(queue))
    refused(test_broker, t.REPLAY, lambda ch: ch.queue_purge(queue))
    refused(test_broker, t.REPLAY, lambda ch: ch.basic_consume(queue, lambda *_: None))


@pytest.mark.parametrize("stream", LOGS)
def test_the_replay_login_neither_deletes_nor_feeds_a_log(
    test_broker: TestBroker, stream: str
) -> None:
    refused(test_broker, t.REPLAY, lambda ch: ch.queue_delete(stream))
    refused(test_broker, t.REPLAY, lambda ch: ch.queue_bind(stream, t.REPLAY_EXCHANGE, stream))


@pytest.mark.parametrize("who", [*t.Service, t.FLOWER, t.STOREFRONT])
def test_no_other_login_reads_a_log(test_broker: TestBroker, who: str) -> None:
    for stream in LOGS:
        refused(test_broker, who, read_log(stream))


# ---- nobody logs in as guest -----------------------------------------------------------------


def service_settings(who: t.Service) -> ServiceSettings:
    settings: ServiceSettings = settings_class(who)()
    return settings


@pytest.mark.parametrize("who", list(t.Service))
def test_each_service_logs_in_as_its_own_user_not_guest(
    test_broker: TestBroker, who: t.Service
) -> None:
    settings = service_settings(who)
    expected = t.user_name(test_broker.vhost, who)
    assert settings.broker_user == expected != "guest"
    assert urlsplit(settings.broker_url).username == expected
    assert {u.name for u in test_broker.topology.users} >= {expected}
    assert "guest" not in {u.name for u in test_broker.topology.users}


def test_a_running_worker_is_listed_under_its_own_user_and_answers_flower(
    test_broker: TestBroker, tmp_path: Path
) -> None:
    """A real worker with the narrowed permissions still replies to Flower's remote control."""
    who = t.Service.EMAIL
    env = {"EMAIL_DATABASE_URL": f"sqlite:///{tmp_path}/email.db", "EMAIL_LOG_LEVEL": "INFO"}
    worker = ServiceProcess("email-worker", [PYTHON, "-m", f"services.{who}.worker"], tmp_path, env)
    flower_url = test_broker.settings.amqp_url(
        t.user_name(test_broker.vhost, t.FLOWER),
        SecretStr(test_broker.passwords[t.user_name(test_broker.vhost, t.FLOWER)]),
    )
    flower = Celery("flower-probe", broker=flower_url, set_as_current=False)
    with running(worker), test_broker.management() as api:
        worker.wait_for_log(rf"{who}@\S+ ready\.")

        def worker_logins() -> set[str]:  # py-amqp is the worker's client; pika is this test's
            found = api.get(api.path("vhosts", test_broker.vhost, "connections")) or []
            return {c["user"] for c in found if c["client_properties"]["product"] == "py-amqp"}

        assert wait_until(worker_logins, timeout=20) == {t.user_name(test_broker.vhost, who)}
        pongs = wait_until(lambda: flower.control.ping(timeout=1.0), timeout=20)
        assert [node.split("@")[0] for reply in pongs for node in reply] == [who.value]
    assert "ACCESS_REFUSED" not in worker.log()
