"""The ingress settles first attempts on the worker's event loop: the pool's answers, posted from
pool threads, reach the loop's hub (kombu's `Hub.call_soon`, the one thread-safe way in), every
one of them, once, on the loop's own thread, and each message gets what its attempt answered. A
loop that waits for I/O is woken for them: an answer never waits for the next poll timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kombu.asynchronous import Hub

from services.common.worker.ingress import EventIngress
from services.common.worker.tasks import Settle
from tests.support.polling import wait_until


@dataclass
class FakeMessage:
    """What `_settle` calls on a kombu message, recording the thread that called it."""

    calls: list[tuple[str, int]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    def ack(self) -> None:
        self.calls.append(("ack", threading.get_ident()))

    def reject(self, requeue: bool) -> None:
        self.calls.append((f"reject requeue={requeue}", threading.get_ident()))

    def requeue(self) -> None:
        self.calls.append(("requeue", threading.get_ident()))


@pytest.fixture
def loop() -> Iterator[tuple[Hub, int]]:
    """A kombu hub, which the Celery worker's event loop runs on, turning in a thread of its own
    and otherwise idle (each poll waits up to a second); yields it and that thread's id."""
    hub = Hub()
    stop = threading.Event()
    started = threading.Event()
    ident: list[int] = []

    def run() -> None:
        ident.append(threading.get_ident())
        turns = hub.create_loop()
        started.set()
        while not stop.is_set():
            next(turns)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    yield hub, ident[0]
    stop.set()
    hub.call_soon(lambda: None)  # one more turn, so that the loop sees `stop`
    thread.join(timeout=5)
    hub.close()


def ingress_on(hub: Hub) -> EventIngress:
    step = object.__new__(EventIngress)
    step._hub, step._held = hub, {}
    return step


def test_answers_from_pool_threads_are_settled_once_each_on_the_loop(
    loop: tuple[Hub, int],
) -> None:
    hub, loop_thread = loop
    ingress = ingress_on(hub)
    answers = [Settle.ACK, Settle.DEAD_LETTER, Settle.REQUEUE, None]  # None: a lost attempt
    messages = {token: FakeMessage() for token in range(4_000)}
    ingress._held.update(messages)  # type: ignore[arg-type]

    def pool_thread(tokens: range) -> None:
        for token in tokens:
            ingress._post(token, answers[token % 4])

    threads = [threading.Thread(target=pool_thread, args=(range(n, 4_000, 4),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_until(lambda: not ingress._held, timeout=10, message="every message settled")
    expected = ["ack", "reject requeue=False", "requeue", "requeue"]
    for token, message in messages.items():
        assert [what for what, _ in message.calls] == [expected[token % 4]], token
        assert message.calls[0][1] == loop_thread


def test_an_answer_wakes_a_loop_that_waits_for_io(loop: tuple[Hub, int]) -> None:
    hub, _ = loop
    ingress = ingress_on(hub)
    message = FakeMessage()
    ingress._held[1] = message  # type: ignore[assignment]
    about_to_poll = threading.Event()
    hub.call_soon(about_to_poll.set)  # the loop runs it, then goes back to its poll
    assert about_to_poll.wait(5)
    posted = time.monotonic()
    threading.Thread(target=ingress._post, args=(1, Settle.ACK)).start()
    wait_until(lambda: message.calls, timeout=5, interval=0.005, message="the ack")
    assert time.monotonic() - posted < 0.5  # woken, not found at the next poll timeout


def test_an_answer_for_a_message_of_a_lost_channel_is_dropped(loop: tuple[Hub, int]) -> None:
    """After a reconnect the old channel's messages are back in the queue: nothing to settle."""
    hub, _ = loop
    ingress = ingress_on(hub)
    ingress._post(7, Settle.ACK)  # token 7 was never (or no longer) held
    done = threading.Event()
    hub.call_soon(done.set)
    assert done.wait(5)
    assert ingress._held == {}
