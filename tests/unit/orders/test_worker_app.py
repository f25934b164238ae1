"""The orders worker module: importable without a broker, wired to the right names."""

from __future__ import annotations

from services.common.topology import Service, task_queue
from services.common.worker.ingress import EventIngress
from services.orders import worker
from services.orders.views import CONFIRMED_ORDER_EXAMPLE, OrderView


def test_tasks_ingress_and_schedule_are_wired() -> None:
    app = worker.app
    tasks = set(app.tasks)
    assert {
        worker.CONFIRM_TASK,
        worker.REJECT_TASK,
        worker.RECORD_RELEASED_TASK,
        worker.EXPIRE_TASK,
    } <= tasks
    [ingress] = [s for s in app.steps["consumer"] if issubclass(s, EventIngress)]
    assert ingress.routes == {
        "stock.reserved": worker.CONFIRM_TASK,
        "stock.rejected": worker.REJECT_TASK,
        "stock.released": worker.RECORD_RELEASED_TASK,
    }
    assert app.conf.task_default_queue == task_queue(Service.ORDERS)
    [entry] = app.conf.beat_schedule.values()
    assert entry["task"] == worker.EXPIRE_TASK
    assert entry["schedule"] == worker.settings.expiry_check_seconds


def test_the_openapi_example_is_a_valid_order_view() -> None:
    view = OrderView.model_validate(CONFIRMED_ORDER_EXAMPLE)
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)


def test_tasks_are_published_to_the_private_exchange_not_the_default_one() -> None:
    """The service user may not write to the default exchange; Celery uses it for a direct
    exchange unless the route names exchange and routing key (services/common/worker/app.py)."""
    queue = task_queue(Service.ORDERS)
    for task in (worker.CONFIRM_TASK, worker.EXPIRE_TASK):
        route = worker.app.amqp.router.route({}, task)
        assert (route["exchange"], route["routing_key"], route["queue"].name) == (queue,) * 3
