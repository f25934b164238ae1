"""What a queue holds, ready AND unacknowledged messages, from figures that cannot be stale.

A passive `queue.declare` answers at once but counts ready messages only: a message a consumer
holds unacked (a task running, a retry waiting for its countdown, an event not yet handed off)
is invisible to it. The management API counts both, but from statistics that each queue emits
every `collect_statistics_interval` and that the management plugin keeps as samples of its own
granularity (5 s on a default node, 1 s on the fault suite's private node): just after a publish
it may still show the queue as it was before.

So a figure is used only once it is provably newer than the question. Every emission carries the
queue process's `reductions` (its cumulative work, so consecutive samples always differ). A sample
that a read did not show yet was collected after that read, and the queue emitted the next one
after that collection: the *second* new sample after a read describes the queue after the read.
Each poll also declares the queues passively, which keeps their processes awake (an idle queue
process hibernates and stops emitting). On a default node this takes 5 to 10 s per queue (1 to
2 s on the private node): that is the price of an "empty" that means empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pika.adapters.blocking_connection import BlockingChannel

from broker.management import ManagementClient
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
POLL_SECONDS = 0.25  # far longer than one collector pass (milliseconds): see `drained`
_COLUMNS = "name,messages_ready,messages_unacknowledged,reductions"


@dataclass(frozen=True)
class Sample:
    """One statistics emission of a queue."""

    ready: int
    unacked: int
    reductions: int

    @property
    def messages(self) -> int:
        return self.ready + self.unacked


@dataclass
class History:
    """The distinct samples of one queue, each with the number of the read that first showed it."""

    seen: list[tuple[int, Sample]] = field(default_factory=list)

    def record(self, read: int, sample: Sample | None) -> None:
        if sample is not None and (not self.seen or self.seen[-1][1] != sample):
            self.seen.append((read, sample))

    def fresh(self, after: int) -> list[tuple[int, Sample]]:
        """(read that first showed it, sample) for the samples emitted after read `after - 1`.

        The first sample new since read `after` was collected after that read; every later one
        was emitted after that collection. A collector pass takes milliseconds and reads are
        POLL_SECONDS apart, so "after read `after` minus one pass" is safely after read
        `after - 1`."""
        return [entry for entry in self.seen if entry[0] > after][1:]

    def latest(self) -> Sample | None:
        return self.seen[-1][1] if self.seen else None


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


def _samples(api: ManagementClient, vhost: str) -> dict[str, Sample]:
    rows = api.get(f"{api.path('queues', vhost)}?columns={_COLUMNS}") or []
    return {
        row["name"]: Sample(
            row["messages_ready"], row["messages_unacknowledged"], row["reductions"]
        )
        for row in rows
        if all(key in row for key in ("messages_ready", "messages_unacknowledged", "reductions"))
    }


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
    """Poll `queues` (passive declares to keep them awake, then one management read) until
    `until(histories)` gives something truthy; return it."""
    if not queues:
        raise ValueError("no queue to watch")
    histories = [History() for _ in queues]
    reads = itertools.count()

    def poll() -> T | None:
        read = next(reads)
        for queue in queues:
            channel.queue_declare(queue, passive=True)
        samples = _samples(api, vhost)
        for queue, history in zip(queues, histories, strict=True):
            history.record(read, samples.get(queue))
        return until(histories)

    def progress() -> str:
        shown = []
        for queue, history in zip(queues, histories, strict=True):
            s = history.latest()
            state = f"{s.ready} ready, {s.unacked} unacked" if s else "no statistics"
            shown.append(f"{queue}: {state} (fresh samples: {len(history.fresh(after=1))})")
        return f"{what}; latest: " + "; ".join(shown)

    return wait_until(poll, timeout=timeout, interval=POLL_SECONDS, message=progress)
