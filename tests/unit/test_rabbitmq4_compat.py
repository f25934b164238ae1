"""What RabbitMQ 4.3 denies by default, `global_qos` and `transient_nonexcl_queues`, checked
against the pinned Celery/kombu and our own declarations without a broker. The same on a live
broker, with every process running: tests/e2e/test_broker_declarations.py.

- A global prefetch: kombu asks for one only on RabbitMQ 3.3-3.x; Celery asks for none on
  quorum queues, which it recognises by our task queue's arguments; the ingress asks per consumer.
- A transient queue that is not exclusive: Celery's pidbox (remote control) and event queues
  are exclusive by default; nothing of ours declares a queue at all (the vhost tool declares
  durable ones).
- Native delayed delivery stays out of a worker on quorum queues (services/common/worker/quorum.py).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from celery.utils.quorum_queues import detect_quorum_queues
from kombu import Connection

from services.common.worker.app import create_worker_app
from services.common.worker.ingress import EventIngress
from services.common.worker.quorum import DELAYED_DELIVERY_STEP, QuorumConsumer
from services.inventory.settings import Settings as InventorySettings


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2])


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVENTORY_BROKER_PASSWORD", "x")


def test_the_installed_celery_and_kombu_are_the_pinned_minimum_or_newer() -> None:
    assert _version(version("celery")) >= (5, 7)
    assert _version(version("kombu")) >= (5, 7)


@pytest.mark.parametrize(
    ("server", "global_qos"),
    [("3.10.8", True), ("3.13.7", True), ("4.0.0", False), ("4.3.0", False)],
)
def test_kombu_asks_for_a_global_prefetch_on_rabbitmq_3_only(server: str, global_qos: bool) -> None:
    connection = Connection("amqp://")

    class Server:
        server_properties = {"product": "RabbitMQ", "version": server}

    # Celery's rule (celery/worker/consumer/tasks.py): global unless the semantics match the spec
    assert (not connection.transport.qos_semantics_matches_spec(Server())) is global_qos


def test_celerys_own_queues_are_exclusive() -> None:
    settings = InventorySettings()
    app = create_worker_app(settings.service, settings)
    assert app.conf.control_queue_exclusive is True  # <node>.celery.pidbox, replies
    assert app.conf.control_queue_durable is False
    assert app.conf.event_queue_exclusive is True  # celeryev.<uuid> (Flower's)
    assert app.conf.event_queue_durable is False
    assert app.control.mailbox.queue_exclusive is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(("queue_type", "quorum"), [("classic", False), ("quorum", True)])
def test_celery_knows_the_task_queue_is_a_quorum_queue_from_the_setting(
    queue_type: str, quorum: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_QUEUE_TYPE", queue_type)
    settings = InventorySettings()
    app = create_worker_app(settings.service, settings)
    assert detect_quorum_queues(app, "amqp") == (quorum, "inventory.tasks" if quorum else "")
    [queue] = app.conf.task_queues
    assert queue.no_declare  # the vhost tool declares it
    expected = "services.common.worker.quorum:QuorumConsumer"
    assert (app.conf.worker_consumer == expected) is quorum


def test_a_worker_on_quorum_queues_has_no_native_delayed_delivery() -> None:
    assert DELAYED_DELIVERY_STEP not in QuorumConsumer.Blueprint.default_steps
    assert len(QuorumConsumer.Blueprint.default_steps) == 9  # every other step of Celery's


def test_the_ingress_asks_for_a_per_consumer_prefetch() -> None:
    calls: list[dict[str, Any]] = []

    class Channel:
        def basic_qos(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    step = object.__new__(EventIngress)
    step.routes, step.prefetch = {"inventory.orders": {}}, 32
    step._held = {}
    EventIngress.get_consumers(step, Channel())
    assert calls == [{"prefetch_size": 0, "prefetch_count": 32, "a_global": False}]
