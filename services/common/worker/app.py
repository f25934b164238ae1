"""A Celery app configured the one way every shopflow worker needs it.

- JSON only, in and out.
- acks_late + reject_on_worker_lost: a message is acked only after its task finished; a worker
  that dies mid-task leaves it to be redelivered.
- No ack on failure: a task that fails for good is *rejected*, so the broker dead-letters it
  through the queue's policy into `<service>.tasks.dlq`.
- Publisher confirms on every publish (the ingress hand-off and retries).
- The private queue `<service>.tasks` and its exchange are `no_declare`: the vhost tool owns them,
  and the service user has no configure permission on them. The queue's arguments say its type
  (`BROKER_QUEUE_TYPE`), which is how Celery knows it consumes a quorum queue (`quorum.py`).
- Task events on, so Flower shows every task.
- Celery's SecurityWarning about running as root is silenced on purpose (`quiet_root_warning`).
- Celery's two INFO lines per task ("received", "succeeded in") are not written
  (`quiet_task_lines`).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from celery import Celery
from celery.exceptions import SecurityWarning
from kombu import Exchange, Queue

from services.common.topology import QueueType, Service, task_queue
from services.common.worker.events import WorkerEvents
from services.common.worker.quorum import QuorumConsumer, quiet_delayed_delivery_warning
from services.common.worker.settings import WorkerSettings


def private_queue(service: Service, queue_type: QueueType) -> Queue:
    name = task_queue(service)
    return Queue(
        name,
        Exchange(name, type="direct", no_declare=True),
        routing_key=name,
        queue_arguments=queue_type.arguments,  # never declared: read by Celery only
        no_declare=True,
    )


def quiet_root_warning() -> None:
    """Celery warns on every start as root. It is the only way to run here (CI, the dev
    container) and the danger it warns about is pickle, which `accept_content=["json"]` rules out:
    Celery *refuses* to start as root if pickle is accepted. Compose runs workers as a normal
    user. See docs/consuming-events.md."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        warnings.filterwarnings("ignore", category=SecurityWarning)


# Celery's loggers for a task's arrival ("Task ... received") and end ("Task ... succeeded in").
TASK_LINE_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def quiet_task_lines() -> None:
    """Celery logs every task's arrival and success at INFO. For an event task both say again
    what two lines of ours already say (the ingress's hand-off, naming the event and the task,
    and the handler's outcome, naming the order), and logging five lines per event was 9% of the
    inventory worker's CPU (docs/benchmarks.md). Their WARNING and ERROR lines (a task that
    failed, was rejected, or died with its worker) stay; how long handlers take is the
    `shopflow_handler_duration_seconds` histogram."""
    for name in TASK_LINE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def create_worker_app(service: Service, settings: WorkerSettings) -> Celery:
    quiet_root_warning()
    quiet_task_lines()
    # Task events through a dispatcher that pool threads never flush (see worker/events.py).
    app = Celery(
        service.value, set_as_current=False, events=f"{WorkerEvents.__module__}:WorkerEvents"
    )
    queue_type = settings.broker.queue_type
    app.conf.update(
        **_connection(settings),
        **_delivery(),
        **_routing(service, queue_type),
        **_pool_and_logs(settings),
    )
    if queue_type is QueueType.QUORUM:
        app.conf.worker_consumer = f"{QuorumConsumer.__module__}:{QuorumConsumer.__qualname__}"
        quiet_delayed_delivery_warning()
    return app


def _connection(settings: WorkerSettings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_heartbeat": settings.broker.heartbeat,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # A channel closed by the broker (e.g. 406 "delivery acknowledgement timed out" when a
        # task outlives the broker's consumer_timeout) is recovered like a lost connection:
        # reconnect, and the broker redelivers what was unacked. Without this Celery calls it
        # "Unrecoverable error" and the worker stops consuming (tests/reliability, scenario 9).
        "broker_channel_error_retry": True,
        # After a reconnect Celery lowers the prefetch count and raises it again from each ack
        # callback. With the threads pool that callback runs in a pool thread, so it sends a
        # synchronous basic.qos on the consumer connection while the event loop reads the same
        # connection: the qos-ok goes to the wrong reader and the loop stalls until the broker
        # drops the connection for missed heartbeats (60-90 s; the reliability suite's full
        # broker restart, from the thread stacks it dumps). Our tasks are short, so keeping the
        # full prefetch across a reconnect costs nothing.
        "worker_enable_prefetch_count_reduction": False,
        "broker_transport_options": {"confirm_publish": True},
    }


def _delivery() -> dict[str, Any]:
    return {
        "accept_content": ["json"],
        "task_serializer": "json",
        "result_serializer": "json",
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure": False,
        "task_acks_on_timeout": False,
        # A task whose connection is gone will be redelivered: don't also finish it here.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
    }


def _routing(service: Service, queue_type: QueueType) -> dict[str, Any]:
    queue = private_queue(service, queue_type)
    return {
        "task_queues": [queue],
        "task_default_queue": queue.name,
        "task_default_exchange": queue.name,
        "task_default_exchange_type": "direct",
        "task_default_routing_key": queue.name,
        # Name the exchange on every route: for a direct exchange without both exchange and
        # routing key, Celery publishes to the default exchange ('') instead, which the service
        # users may not write to (it would reach any queue) -> ACCESS_REFUSED on every hand-off.
        "task_routes": {
            "*": {"queue": queue.name, "exchange": queue.name, "routing_key": queue.name}
        },
        "task_create_missing_queues": False,
    }


def _pool_and_logs(settings: WorkerSettings) -> dict[str, Any]:
    return {
        "worker_prefetch_multiplier": settings.worker.prefetch_multiplier,
        "worker_concurrency": settings.worker.concurrency,
        "worker_pool": settings.worker.pool,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_hijack_root_logger": True,
        "worker_log_format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s",
        "worker_task_log_format": (
            "%(asctime)s %(levelname)s %(processName)s %(task_name)s[%(task_id)s]: %(message)s"
        ),
    }


def node_name(service: Service) -> str:
    """`<service>@<host>-<pid>`: the permissions allow the pidbox queues of `<service>@...` only,
    and the pid keeps two workers on one host apart (the pidbox queue is exclusive, so a second
    worker with the same node name fails with RESOURCE_LOCKED)."""
    return f"{service.value}@%h-{os.getpid()}"


def worker_argv(service: Service, settings: WorkerSettings) -> list[str]:
    """The `celery worker` arguments every service runs with (the Procfile uses them through
    `python -m services.<name>.worker`, so local runs, compose and tests start workers the same
    way)."""
    return [
        "worker",
        f"--queues={task_queue(service)}",
        f"--hostname={node_name(service)}",
        f"--pool={settings.worker.pool}",
        f"--concurrency={settings.worker.concurrency}",
        f"--loglevel={settings.log.level}",
        "--task-events",
        "--without-gossip",
        "--without-mingle",
    ]
