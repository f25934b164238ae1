"""A service's Celery worker, declared as one table: `{event type: handler}`.

Every worker module reads the same way (services/<name>/worker.py):

    worker = ServiceWorker(Settings(), bootstrap, {ORDER_PLACED: reserve_stock, ...})
    app = worker.app

From the table this derives everything else, so nothing is declared twice:
- one task per handler, named `<service>.<handler name>`, accepting the event types mapped to it:
  its first attempt runs straight off the event queue, a retry as the task on the private queue;
- the ingress routes (event type -> task name) of each event queue the service subscribes to;
- a check that the table handles exactly the event types the topology binds to those queues (an
  event type bound but not handled would be dead-lettered as "unhandled"; one handled but not
  bound would never arrive).

Handlers take the event first; every other parameter is filled by name from the process's
container, which the service's `bootstrap(settings)` builds once per process, on the first task
(after a prefork fork, in each child), so importing a worker module connects to nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from celery import Celery
from sqlalchemy.exc import OperationalError

from services.common.lazy import Lazy
from services.common.observability.workers import observe_celery
from services.common.retention import Expiry
from services.common.topology import EVENT_SUBSCRIPTIONS, Service, task_queue
from services.common.worker.app import create_worker_app, worker_argv
from services.common.worker.attempt import EventHandler
from services.common.worker.errors import TransientError
from services.common.worker.inbox_pruning import install_inbox_pruning
from services.common.worker.ingress import install_event_ingress
from services.common.worker.observed import TaskMetrics
from services.common.worker.settings import WorkerSettings
from services.common.worker.tasks import register_event_task

log = logging.getLogger("shopflow.worker")

SettingsT = TypeVar("SettingsT", bound=WorkerSettings)
Handler = Callable[..., object]


@dataclasses.dataclass(frozen=True)
class Every:
    """A job beat asks for every `seconds`; its parameters are filled from the container."""

    seconds: float
    job: Handler


def task_name(service: Service, handler: Handler) -> str:
    return f"{service.value}.{handler.__name__}"


def subscribed_event_types(service: Service) -> dict[str, tuple[str, ...]]:
    """Queue -> the event types the topology routes to it, for one service."""
    return {queue: keys for queue, _exchange, keys in EVENT_SUBSCRIPTIONS.get(service, ())}


def check_handlers(service: Service, handlers: Mapping[str, Handler]) -> None:
    bound = {key for keys in subscribed_event_types(service).values() for key in keys}
    if set(handlers) != bound:
        raise ValueError(
            f"the {service} worker handles {sorted(handlers)} but its queues are bound to "
            f"{sorted(bound)}: unhandled {sorted(bound - set(handlers))}, "
            f"never delivered {sorted(set(handlers) - bound)} (services/common/topology)"
        )


def inject(handler: Handler, container: object, *, skip: int) -> Callable[..., object]:
    """`handler` with its parameters after the first `skip` filled from `container`'s fields of
    the same name (a parameter with a default may be absent from the container)."""
    assert dataclasses.is_dataclass(container)
    available = {f.name: getattr(container, f.name) for f in dataclasses.fields(container)}
    params = list(inspect.signature(handler).parameters.values())[skip:]
    missing = [p.name for p in params if p.name not in available and p.default is p.empty]
    if missing:
        raise TypeError(
            f"{handler.__qualname__} needs {missing}, which the container "
            f"{type(container).__name__} does not have"
        )
    return functools.partial(
        handler, **{p.name: available[p.name] for p in params if p.name in available}
    )


class ServiceWorker(Generic[SettingsT]):
    def __init__(
        self,
        settings: SettingsT,
        bootstrap: Callable[[SettingsT], object],
        handlers: Mapping[str, Handler],
        *,
        periodic: Mapping[str, Every] | None = None,
        inbox: Expiry | None = None,
    ) -> None:
        """`inbox`: the rows of the service's inbox that retention prunes (its processed events,
        or for email the mails it sent); the worker prunes them while it runs."""
        self.service = settings.service
        check_handlers(self.service, handlers)
        self.settings = settings
        self.app: Celery = create_worker_app(self.service, settings)
        self.container = Lazy(lambda: bootstrap(settings))
        self.routes = self._register_event_tasks(handlers)
        self._install_ingress()
        self._register_periodic(periodic or {})
        if inbox is not None:
            install_inbox_pruning(self.app, inbox, settings.database_url, settings.retention)

    def main(self) -> None:
        """Run the worker process (`python -m services.<name>.worker`)."""
        process = f"{self.service.value}-worker"
        port = self.settings.worker.metrics_port
        observe_celery(process, self.service.value, self.settings, port, trace_tasks=True)
        self.app.worker_main(worker_argv(self.service, self.settings))

    def _register_event_tasks(self, handlers: Mapping[str, Handler]) -> dict[str, str]:
        accepted: dict[Handler, set[str]] = {}
        for event_type, handler in handlers.items():
            accepted.setdefault(handler, set()).add(event_type)
        queue_of = {
            event_type: queue
            for queue, event_types in subscribed_event_types(self.service).items()
            for event_type in event_types
        }
        routes: dict[str, str] = {}
        for handler, event_types in accepted.items():
            name = task_name(self.service, handler)
            metrics = TaskMetrics({t: queue_of[t] for t in event_types}, task_queue(self.service))
            register_event_task(
                self.app,
                name,
                frozenset(event_types),
                self._injected(handler),
                self.settings.retry,
                metrics,
                task_queue(self.service),
            )
            routes.update(dict.fromkeys(event_types, name))
        return routes

    def _injected(self, handler: Handler) -> Callable[[], EventHandler]:
        built = Lazy(lambda: inject(handler, self.container(), skip=1))
        return built

    def _install_ingress(self) -> None:
        tuning = self.settings.worker
        install_event_ingress(
            self.app,
            routes={
                queue: {event_type: self.routes[event_type] for event_type in event_types}
                for queue, event_types in subscribed_event_types(self.service).items()
            },
            # One bound on the work a worker holds: the same one Celery gives its task queue.
            prefetch=tuning.concurrency * tuning.prefetch_multiplier,
        )

    def _register_periodic(self, periodic: Mapping[str, Every]) -> None:
        schedule: dict[str, dict[str, Any]] = {}
        for entry, every in periodic.items():
            name = task_name(self.service, every.job)
            self.app.task(name=name, shared=False)(self._periodic_run(every.job))
            # No `expires`: Celery turns it into a per-message TTL, and the broker would
            # dead-letter every tick no worker took in time into <service>.tasks.dlq. Ticks that
            # piled up while no worker ran are harmless when the job is idempotent.
            schedule[entry] = {"task": name, "schedule": every.seconds}
        self.app.conf.beat_schedule = schedule

    def _periodic_run(self, job: Handler) -> Callable[[], object]:
        built = Lazy(lambda: inject(job, self.container(), skip=0))

        def run() -> object:
            try:
                return built()()
            except (OperationalError, TransientError) as exc:
                # The next tick tries again; a periodic job has nothing to retry on its own.
                log.warning("%s skipped this time: %s", job.__name__, exc)
                return None

        run.__name__ = job.__name__
        return run
