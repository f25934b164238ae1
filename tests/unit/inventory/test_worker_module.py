"""The inventory worker module: importable without a broker, wired to the right names."""

from __future__ import annotations

from services.common.topology import (
    EVENT_SUBSCRIPTIONS,
    ORDER_EXPIRED,
    ORDER_PLACED,
    Service,
    task_queue,
)
from services.common.worker.app import node_name, worker_argv
from services.common.worker.ingress import EventIngress
from services.inventory import worker


def test_the_ingress_routes_order_placed_to_the_reserve_task() -> None:
    app = worker.app
    assert worker.RESERVE_TASK in app.tasks
    [ingress] = [s for s in app.steps["consumer"] if issubclass(s, EventIngress)]
    assert ingress.queue_name == "inventory.orders"
    assert ingress.routes == {
        ORDER_PLACED: worker.RESERVE_TASK,
        ORDER_EXPIRED: worker.RELEASE_TASK,
    }
    # exactly the event types the topology binds to the queue: none dead-letters as "unhandled"
    [(_queue, _exchange, keys)] = EVENT_SUBSCRIPTIONS[Service.INVENTORY]
    assert set(ingress.routes) == set(keys)


def test_tasks_go_to_the_private_queue_only() -> None:
    queue = task_queue(Service.INVENTORY)
    route = worker.app.amqp.router.route({}, worker.RESERVE_TASK)
    assert (route["exchange"], route["routing_key"], route["queue"].name) == (queue,) * 3
    assert route["queue"].no_declare


def test_the_celery_configuration_is_the_safe_one() -> None:
    conf = worker.app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.task_acks_on_failure is False
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.broker_url.startswith("amqp://")
    assert "inventory" in conf.broker_url
    assert conf.worker_send_task_events
    assert conf.task_send_sent_event
    assert conf.task_ignore_result


def test_the_worker_command_line() -> None:
    argv = worker_argv(Service.INVENTORY, worker.settings)
    assert "--queues=inventory.tasks" in argv
    assert "--pool=threads" in argv
    assert f"--hostname={node_name(Service.INVENTORY)}" in argv
    assert node_name(Service.INVENTORY).startswith("inventory@%h-")
