"""The naming rules: every name in the vhost that follows from a service's or an exchange's name.

- a service's broker login is `<vhost>-<service>`;
- its private Celery task queue is `<service>.tasks`, behind the direct exchange `<service>.tasks`;
- every queue of a service dead-letters through the service's DLX `<service>.dlx`, with the routing
  key set to the queue's own name, into `<queue>.dlq` (see `Queue.dead_letter_queue`);
- an event exchange's unroutable messages go to `<exchange>.unroutable` (exchange and queue);
- an event exchange's events are also kept in its event log, the stream `<exchange>.log`.
"""

from __future__ import annotations

from services.common.registry import Service

DEFAULT_VHOST = "shop"

MONITOR = "monitor"  # the read-only login for people (management UI)
FLOWER = "flower"  # Flower: reads Celery task events, may ask workers for their state
STOREFRONT = "storefront"  # the orders API's live updates: reads some order events, nothing else
REPLAY = "replay"  # `python -m broker.replay`: reads the event logs, writes the replay exchanges


def user_name(vhost: str, service: Service | str) -> str:
    """Broker login of a service (or of `monitor`) in a vhost: `shop-orders`, `shop-monitor`..."""
    return f"{vhost}-{service}"


def task_queue(service: Service) -> str:
    """The private Celery task queue of a service (also the name of its direct exchange)."""
    return f"{service}.tasks"


def dead_letter_exchange(service: Service) -> str:
    return f"{service}.dlx"


def unroutable(exchange: str) -> str:
    """The alternate exchange of an event exchange, and the queue behind it."""
    return f"{exchange}.unroutable"


def event_log(exchange: str) -> str:
    """The stream that keeps every event published to an event exchange (docs/event-log.md)."""
    return f"{exchange}.log"
