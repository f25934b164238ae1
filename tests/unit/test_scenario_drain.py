"""The scenario's "working queues drained" check: only figures newer than the question count,
and a queue without one is not known to be empty (no broker here: the samples are made up)."""

from __future__ import annotations

from broker.queue_stats import History, Sample
from scenario.checks import drained
from services.common.topology import Service, task_queue

EMAIL, SHIPPING = task_queue(Service.EMAIL), task_queue(Service.SHIPPING)


def history(*seen: tuple[int, int]) -> History:
    """From (read that first showed it, messages); each sample a new emission."""
    h = History()
    for n, (read, messages) in enumerate(seen):
        h.record(read, Sample(messages, 0, reductions=1000 + n))
    return h


def test_a_queue_without_statistics_is_not_known_yet() -> None:
    assert History().now() is None
    check = drained({EMAIL: 0, SHIPPING: None})
    assert not check.ok
    assert check.actual == f"{SHIPPING}=no fresh statistics"


def test_only_statistics_emitted_after_the_question_count() -> None:
    assert history((0, 0)).now() is None  # read 0: collected before the question
    assert history((0, 0), (2, 0)).now() is None  # new since read 1, may predate read 1
    assert history((0, 0), (2, 3)).now() is None
    assert history((0, 0), (2, 3), (4, 1)).now() == 1  # emitted after read 1
    assert history((0, 0), (2, 3), (4, 1), (6, 0)).now() == 0  # the latest of them


def test_unacked_messages_are_messages() -> None:
    held = History()
    for read in (0, 2, 4):
        held.record(read, Sample(ready=0, unacked=1, reductions=read))
    assert held.now() == 1


def test_drained_when_every_queue_is_known_to_be_empty() -> None:
    assert drained({EMAIL: 0, SHIPPING: 0}).ok
    busy = drained({EMAIL: 2, SHIPPING: 0})
    assert (busy.ok, busy.actual) == (False, f"{EMAIL}=2")
