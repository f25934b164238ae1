"""The test suite's notion of "this queue holds nothing" (tests/support/queue_stats.py): which
statistics samples it may trust, fed by hand (no broker here)."""

from __future__ import annotations

from broker.queue_stats import History, Sample
from tests.support.queue_stats import counts, drained

EMPTY = 0


def history(*seen: tuple[int, int, int]) -> History:
    """From (read that first showed it, ready, unacked); each sample a new emission."""
    h = History()
    for n, (read, ready, unacked) in enumerate(seen):
        h.record(read, Sample(ready, unacked, reductions=1000 + n))
    return h


def test_a_sample_repeated_by_later_reads_is_recorded_once() -> None:
    h = History()
    for read in range(5):
        h.record(read, Sample(0, 0, reductions=7))
    h.record(5, None)  # a read that found no statistics for the queue
    assert h.seen == [(0, Sample(0, 0, 7))]


def test_an_empty_sample_from_before_the_question_is_not_trusted() -> None:
    # read 0 shows the queue empty: collected before the test's message arrived
    assert not drained([history((0, EMPTY, 0))])
    # the next new sample may still have been emitted before read 0
    assert not drained([history((0, EMPTY, 0), (3, EMPTY, 0))])
    # only after read 0: changed since read 1 and changed again
    assert not drained([history((0, EMPTY, 0), (1, EMPTY, 0), (3, EMPTY, 0))])
    assert drained([history((0, EMPTY, 0), (2, EMPTY, 0), (5, EMPTY, 0))])


def test_a_message_held_unacked_is_not_empty() -> None:
    held = history((0, 0, 1), (2, 0, 1), (4, 0, 1), (6, 0, 1))
    assert not drained([held])
    held.record(8, Sample(0, 0, reductions=9999))  # acked
    assert drained([held])


def test_the_next_queue_must_be_seen_empty_after_the_previous_one() -> None:
    events = history((0, 1, 0), (2, 0, 1), (6, EMPTY, 0))  # empty, emitted after read 0, at 6
    # the task queue looked empty early on, before the event was handed off to it
    tasks = history((0, EMPTY, 0), (2, EMPTY, 0), (4, EMPTY, 0))
    assert not drained([events, tasks])
    tasks.record(8, Sample(EMPTY, 0, reductions=1))  # new since read 7, may predate read 7
    assert not drained([events, tasks])
    tasks.record(9, Sample(EMPTY, 0, reductions=2))  # emitted after read 7: after the event's
    assert drained([events, tasks])


def test_counts_wait_for_a_sample_of_every_queue_newer_than_the_question() -> None:
    a = history((0, 3, 0), (2, 0, 2), (4, 0, 0))
    b = history((0, 5, 0), (2, 5, 0))
    assert counts([a, b]) is None
    b.record(3, Sample(1, 1, reductions=1))
    assert counts([a, b]) == [0, 2]
