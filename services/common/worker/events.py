"""Task events that cannot freeze a threads-pool worker.

With the threads pool Celery sends a task's events from the pool thread that ran it. Events of the
group `task` are buffered, and once the buffer holds `buffer_limit` (24) events the sending pool
thread publishes it itself. With publisher confirms on, that thread then waits for the broker's ack
on the event connection, which the worker's event loop also reads (Celery registers it there for
heartbeats). When the loop reads the ack first, the pool thread waits forever holding the
dispatcher's lock, the loop blocks on that lock at its next flush, and the whole worker freezes
until the broker drops it for missed heartbeats (60-90 s), then redelivers what it held. The
benchmark hit it within seconds at a few hundred tasks/s (docs/benchmarks.md).

So pool threads only append to the buffer; the event loop, the one reader of that connection,
publishes it (Celery schedules that flush on every buffered send).

And the dispatcher's own connection publishes without confirms (Celery hands it over already
connected, so the flag is turned off on the open connection too). A task sends four events
(sent, received, started, succeeded), and with `confirm_publish` (on for every connection of the
app: retries need it) the loop waited for the broker's ack of each, one after
the other, inside its flush: about a twentieth of a worker's CPU per event. Task events are
monitoring: Flower misses one the broker lost either way, and a confirm protects nothing that
could be done again. It also keeps a worker starting during a broker resource alarm: the alarm
blocks publishing connections, and Celery's start waits for its first heartbeat event to be
published (tests/reliability/test_resource_alarm.py). Retries keep their confirms (their own
connection, worker/retry_publisher.py).
"""

from __future__ import annotations

import sys
from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher
from kombu import Connection


class LoopFlushedDispatcher(EventDispatcher):
    def __init__(self, connection: Connection | None = None, *args: Any, **kwargs: Any) -> None:
        kwargs["buffer_limit"] = sys.maxsize  # never flushed by the sending (pool) thread
        if connection is not None:
            # For this connection's future (re)connections...
            options = dict(connection.transport_options or {})
            connection.transport_options = {**options, "confirm_publish": False}
            # ...and for the one Celery's Events step has already opened: py-amqp reads the
            # flag when it creates a channel, and the dispatcher's channel comes after this.
            if connection.connected:
                connection.connection.confirm_publish = False
        super().__init__(connection, *args, **kwargs)


class WorkerEvents(Events):
    dispatcher_cls = f"{__name__}:LoopFlushedDispatcher"
