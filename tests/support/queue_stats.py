"""The test suite's "this queue holds nothing" and "this queue holds N", from statistics newer
than the question (broker/queue_stats.py says why a figure may be stale, and how a fresh one is
told apart), and the settings that make a test node emit them often.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from pika.adapters.blocking_connection import BlockingChannel

from broker.management import ManagementClient
from broker.queue_stats import POLL_SECONDS, History, QueueWatch
from tests.support.polling import wait_until

T = TypeVar("T")
# A test node given both of these (a rabbitmq.conf line, an advanced.config term) emits its queues'
# statistics every half second (the default is 5 s) and keeps them as 1 s samples (the management
# plugin keeps 5 s samples by default, whatever the emission interval), so a "holds nothing"
# check takes 1 to 2 s a queue instead of 5 to 10.
STATISTICS_EVERY_HALF_SECOND = "collect_statistics_interval = 500"
SAMPLES_EVERY_SECOND = (
    "{rabbitmq_management, [{sample_retention_policies,"
    " [{global, [{605, 1}]}, {basic, [{605, 1}]}, {detailed, [{10, 1}]}]}]}"
)


def drained(histories: Sequence[History]) -> bool:
    """True once whatever the queues held at read 0 has left them all.

    The histories are in the order messages flow between the queues (events, then tasks). Each
    queue must show an empty sample emitted after the previous queue's empty sample was seen: a
    message that left queue A for queue B did so before A's empty sample, so B's later empty
    sample proves it left B too."""
    after = 1  # emitted after read 0, which began after the question was asked
    for history in histories:
        seen_at = next((read for read, s in history.fresh(after) if s.messages == 0), None)
        if seen_at is None:
            return False
        after = seen_at + 1
    return True


def counts(histories: Sequence[History]) -> list[int] | None:
    """Each queue's messages (ready + unacked) in its first sample emitted after read 0, once
    every queue has one. Each count is exact at its own moment: compare them only while nothing
    moves messages between the queues (their consumers stopped)."""
    first = [history.fresh(after=1)[:1] for history in histories]
    if not all(first):
        return None
    return [sample.messages for ((_, sample),) in first]


def watch(
    channel: BlockingChannel,
    api: ManagementClient,
    vhost: str,
    queues: Sequence[str],
    until: Callable[[Sequence[History]], T | None],
    *,
    timeout: float,
    what: str,
) -> T:
    """Poll `queues` (QueueWatch) until `until(histories)` gives something truthy; return it."""
    queue_watch = QueueWatch(channel, api, vhost, queues)

    def poll() -> T | None:
        queue_watch.poll()
        return until(queue_watch.histories)

    return wait_until(
        poll,
        timeout=timeout,
        interval=POLL_SECONDS,
        message=lambda: f"{what}; latest: {queue_watch.progress()}",
    )
