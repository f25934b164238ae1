"""The three worker modules: importable without a broker, and wired alike from their tables."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from services.common.topology import EVENT_SUBSCRIPTIONS, WORKER_SERVICES, Service, task_queue
from services.common.worker.app import node_name, worker_argv
from services.common.worker.ingress import EventIngress
from services.common.worker.service import ServiceWorker

SERVICES = list(WORKER_SERVICES)


def worker_module(service: Service) -> ModuleType:
    return importlib.import_module(f"services.{service.value}.worker")


def service_worker(service: Service) -> ServiceWorker:  # type: ignore[type-arg]
    worker = worker_module(service).worker
    assert isinstance(worker, ServiceWorker)
    return worker


@pytest.mark.parametrize("service", SERVICES)
def test_one_task_per_handler_named_after_it(service: Service) -> None:
    module = worker_module(service)
    for event_type, handler in module.HANDLERS.items():
        name = f"{service.value}.{handler.__name__}"
        assert name in module.app.tasks
        assert service_worker(service).routes[event_type] == name


@pytest.mark.parametrize("service", SERVICES)
def test_the_ingress_routes_exactly_what_the_topology_binds(service: Service) -> None:
    """An event type bound but not routed would dead-letter as "unhandled"."""
    module = worker_module(service)
    [ingress] = [s for s in module.app.steps["consumer"] if issubclass(s, EventIngress)]
    subscriptions = EVENT_SUBSCRIPTIONS[service]
    assert {(queue, frozenset(types)) for queue, types in ingress.routes.items()} == {
        (queue, frozenset(keys)) for queue, _exchange, keys in subscriptions
    }
    for types in ingress.routes.values():
        assert types == {t: service_worker(service).routes[t] for t in types}


@pytest.mark.parametrize("service", SERVICES)
def test_one_bound_on_the_events_a_worker_holds(service: Service) -> None:
    """The ingress holds as many unacked events as Celery holds task messages: concurrency x
    the prefetch multiplier, one setting for both."""
    module = worker_module(service)
    [ingress] = [s for s in module.app.steps["consumer"] if issubclass(s, EventIngress)]
    tuning = service_worker(service).settings.worker
    assert ingress.prefetch == tuning.concurrency * tuning.prefetch_multiplier
    assert module.app.conf.worker_prefetch_multiplier == tuning.prefetch_multiplier


@pytest.mark.parametrize("service", SERVICES)
def test_tasks_go_to_the_private_exchange_only(service: Service) -> None:
    """The service user may not write to the default exchange; Celery uses it for a direct
    exchange unless the route names exchange and routing key (services/common/worker/app.py)."""
    queue = task_queue(service)
    app = worker_module(service).app
    for name in set(service_worker(service).routes.values()):
        route = app.amqp.router.route({}, name)
        assert (route["exchange"], route["routing_key"], route["queue"].name) == (queue,) * 3
        assert route["queue"].no_declare


@pytest.mark.parametrize("service", SERVICES)
def test_the_celery_configuration_is_the_safe_one(service: Service) -> None:
    conf = worker_module(service).app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late
    assert conf.task_reject_on_worker_lost
    assert conf.task_acks_on_failure is False
    assert conf.broker_transport_options == {"confirm_publish": True}
    assert conf.broker_url.startswith("amqp://")
    assert f"-{service.value}:" in conf.broker_url
    assert conf.worker_send_task_events
    assert conf.task_send_sent_event
    assert conf.task_ignore_result


@pytest.mark.parametrize("service", SERVICES)
def test_the_worker_command_line(service: Service) -> None:
    argv = worker_argv(service, service_worker(service).settings)
    assert f"--queues={task_queue(service)}" in argv
    assert "--pool=threads" in argv
    assert f"--hostname={node_name(service)}" in argv
    assert node_name(service).startswith(f"{service.value}@%h-")


def test_only_the_orders_worker_has_a_beat_schedule() -> None:
    orders = service_worker(Service.ORDERS)
    [entry] = orders.app.conf.beat_schedule.values()
    assert entry["task"] == "orders.expire_pending_orders"
    assert entry["task"] in orders.app.tasks
    assert entry["schedule"] == orders.settings.expiry_check_seconds
    assert not service_worker(Service.INVENTORY).app.conf.beat_schedule
