"""A Celery worker on quorum queues (BROKER_QUEUE_TYPE=quorum).

Celery learns that a queue is a quorum queue only from the arguments of its kombu `Queue`
(`x-queue-type: quorum`, set by `app.private_queue`): our queues are declared by the vhost tool,
so nothing else tells it. Once it knows, Celery

- asks for a per-consumer prefetch, not the global one that quorum queues refuse (540
  NOT_IMPLEMENTED, and the connection closes). The prefetch is then fixed at concurrency x
  WORKER_PREFETCH_MULTIPLIER: Celery's raising it for each ETA task it holds does not reach an
  existing consumer;
- adds its `DelayedDelivery` bootstep, which declares `celery_delayed_*` exchanges and queues
  shared by every application in the vhost and binds the app's queues to them. We leave it out
  (`QuorumConsumer`): a shared topic exchange in front of every service's task queue is where a
  retry could reach another service's queue, and the service logins may declare none of it;
- warns, on every `countdown` sent to a direct exchange, that native delayed delivery needs a
  topic exchange. Our retries are exactly that, on purpose, so the warning is filtered
  (`DelayedDeliveryWarningFilter`).

So a retry (`Task.retry(countdown=...)`) stays what it is on classic queues: a new message on the
service's private direct exchange with an ETA, which the worker that receives it holds, unacked,
until it is due. On a quorum queue it occupies one of the fixed prefetch slots meanwhile
(docs/consuming-events.md, "Retries on quorum queues").
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer

DELAYED_DELIVERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"
DIRECT_EXCHANGE_WARNING = "Direct exchanges are not supported with native delayed delivery"


class QuorumConsumer(Consumer):
    """Celery's consumer without the native delayed delivery bootstep."""

    # celery-types declares `Consumer.Blueprint` as an attribute, not as the class it is
    class Blueprint(Consumer.Blueprint):  # type: ignore[misc,valid-type]
        default_steps = [s for s in Consumer.Blueprint.default_steps if s != DELAYED_DELIVERY_STEP]


class DelayedDeliveryWarningFilter(logging.Filter):
    """Drops Celery's warning that a countdown on a direct exchange is held by the worker."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(DIRECT_EXCHANGE_WARNING)


_FILTER = DelayedDeliveryWarningFilter()


def quiet_delayed_delivery_warning() -> None:
    """Install the filter on the logger Celery warns on (once per process)."""
    logger = logging.getLogger("celery.app.base")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
