"""What a queue holds, ready AND unacknowledged messages, from figures that cannot be stale.

A passive `queue.declare` answers at once but counts ready messages only: a message a consumer
holds unacked (a task running, a retry waiting for its countdown, an event not yet handed off)
is invisible to it. The management API counts both, but from statistics that each queue emits
every `collect_statistics_interval` and that the management plugin keeps as samples of its own
granularity (5 s on a default node, 1 s on the fault suite's private node): just after a publish
it may still show the queue as it was before, and a queue it has no statistics of yet is not
empty, only unknown.

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
from collections.abc import Sequence
from dataclasses import dataclass, field

from pika.adapters.blocking_connection import BlockingChannel

from broker.management import ManagementClient

POLL_SECONDS = 0.25  # far longer than one collector pass (milliseconds): see `History.fresh`
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

    def now(self) -> int | None:
        """Its messages in its latest sample emitted after read 0 (the question); None while it
        has none: not known yet, which is not 0."""
        fresh = self.fresh(after=1)
        return fresh[-1][1].messages if fresh else None


def read_samples(api: ManagementClient, vhost: str) -> dict[str, Sample]:
    """Each queue's latest statistics; a queue the management plugin has none of is left out."""
    rows = api.get(f"{api.path('queues', vhost)}?columns={_COLUMNS}") or []
    return {
        row["name"]: Sample(
            row["messages_ready"], row["messages_unacknowledged"], row["reductions"]
        )
        for row in rows
        if all(key in row for key in ("messages_ready", "messages_unacknowledged", "reductions"))
    }


class QueueWatch:
    """The histories of `queues`, one `poll` (passive declares to keep them awake, then one
    management read) at a time; read 0 is the first poll."""

    def __init__(
        self, channel: BlockingChannel, api: ManagementClient, vhost: str, queues: Sequence[str]
    ) -> None:
        if not queues:
            raise ValueError("no queue to watch")
        self.channel, self.api, self.vhost = channel, api, vhost
        self.queues = list(queues)
        self.histories = [History() for _ in queues]
        self._reads = itertools.count()

    def poll(self) -> None:
        read = next(self._reads)
        for queue in self.queues:
            self.channel.queue_declare(queue, passive=True)
        samples = read_samples(self.api, self.vhost)
        for queue, history in zip(self.queues, self.histories, strict=True):
            history.record(read, samples.get(queue))

    def now(self) -> dict[str, int | None]:
        """Each queue's `History.now`."""
        return {q: h.now() for q, h in zip(self.queues, self.histories, strict=True)}

    def progress(self) -> str:
        """Each queue's latest sample, and how many fresh ones it has: for a message on timeout."""
        shown = []
        for queue, history in zip(self.queues, self.histories, strict=True):
            s = history.latest()
            state = f"{s.ready} ready, {s.unacked} unacked" if s else "no statistics"
            shown.append(f"{queue}: {state} (fresh samples: {len(history.fresh(after=1))})")
        return "; ".join(shown)
