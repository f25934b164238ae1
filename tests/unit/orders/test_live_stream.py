"""The live timeline stream (api/live.py) and the hub (live/hub.py), with a fake timeline.

What they promise: subscribe first, then replay what came after the client's position, then go
live; no step is lost (a change during a read makes the stream read again; a re-subscription
after a broker outage makes every stream read again) and none is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from fastapi.sse import ServerSentEvent

from services.orders.api.live import RECONNECT_MS, order_steps
from services.orders.live import Hub
from services.orders.read import TimelineStep
from services.orders.status import OrderStatus

ORDER = "order-1"


def step(position: int, status: OrderStatus = OrderStatus.PENDING) -> TimelineStep:
    return TimelineStep(
        position=position, at=datetime.now(UTC), what=f"step {position}", status=status
    )


class FakeTimeline:
    """The database: steps by position; `during_read` runs inside the next read, as if another
    transaction committed while the stream was reading."""

    def __init__(self, *positions: int) -> None:
        self.steps = [step(p) for p in positions]
        self.reads: list[int] = []
        self.during_read: Callable[[], None] | None = None

    async def read(self, order_id: str, after: int) -> list[TimelineStep]:
        assert order_id == ORDER
        self.reads.append(after)
        snapshot = [s for s in self.steps if s.position > after]
        if self.during_read is not None:
            hook, self.during_read = self.during_read, None
            hook()
        await asyncio.sleep(0)
        return snapshot


class Reader:
    """Reads a stream in a task of its own, as FastAPI does (a timeout on the reader must not
    cancel the stream itself)."""

    def __init__(self, stream: AsyncIterator[ServerSentEvent]) -> None:
        self.events: asyncio.Queue[ServerSentEvent] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(stream))

    async def _pump(self, stream: AsyncIterator[ServerSentEvent]) -> None:
        async for event in stream:
            await self.events.put(event)

    async def take(self, n: int) -> list[ServerSentEvent]:
        return [await asyncio.wait_for(self.events.get(), timeout=2) for _ in range(n)]

    async def nothing_more(self) -> bool:
        try:
            await asyncio.wait_for(self.events.get(), timeout=0.2)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        """What a client that goes away does: the stream is cancelled, its watch ends."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def positions(events: list[ServerSentEvent]) -> list[int]:
    assert all(e.event == "step" and e.id == str(e.data.position) for e in events)
    return [e.data.position for e in events]


def test_it_replays_what_came_after_the_position_then_sends_each_new_step_once() -> None:
    async def scenario() -> None:
        hub, timeline = Hub(), FakeTimeline(3, 5, 9)
        stream = Reader(order_steps(ORDER, 3, hub, timeline.read))
        [control] = await stream.take(1)
        assert (control.retry, control.id, control.event) == (RECONNECT_MS, None, None)
        assert positions(await stream.take(2)) == [5, 9]
        assert await stream.nothing_more()

        timeline.steps.append(step(12, OrderStatus.CONFIRMED))
        hub.changed(ORDER)
        assert positions(await stream.take(1)) == [12]
        hub.changed(ORDER)  # an event whose steps were already sent: nothing is repeated
        assert await stream.nothing_more()
        assert timeline.reads == [3, 9, 12]
        assert hub.watching == 1
        await stream.close()
        assert hub.watching == 0

    asyncio.run(scenario())


def test_a_change_during_the_replay_is_not_lost() -> None:
    """Subscribe first: the event of a step committed while the stream reads wakes it again."""

    async def scenario() -> None:
        hub, timeline = Hub(), FakeTimeline(1)

        def commit_and_notify() -> None:
            timeline.steps.append(step(2, OrderStatus.REJECTED))
            hub.changed(ORDER)

        timeline.during_read = commit_and_notify
        stream = Reader(order_steps(ORDER, 0, hub, timeline.read))
        assert positions((await stream.take(3))[1:]) == [1, 2]
        await stream.close()

    asyncio.run(scenario())


def test_subscribing_again_after_an_outage_makes_every_stream_catch_up() -> None:
    """While the bridge was cut off, events went nowhere; the steps are in the database."""

    async def scenario() -> None:
        hub, timeline = Hub(), FakeTimeline(1)
        hub.subscribed()
        stream = Reader(order_steps(ORDER, 0, hub, timeline.read))
        assert positions((await stream.take(2))[1:]) == [1]

        hub.unsubscribed("broker unreachable: connection refused")
        assert hub.problem == "broker unreachable: connection refused"
        timeline.steps.append(step(4, OrderStatus.EXPIRED))  # its event is lost with the broker
        assert await stream.nothing_more()

        hub.subscribed()
        assert hub.problem is None
        assert positions(await stream.take(1)) == [4]
        await stream.close()

    asyncio.run(scenario())


def test_the_hub_wakes_only_the_streams_of_the_changed_order() -> None:
    async def scenario() -> None:
        hub = Hub()
        with hub.watch("a") as a, hub.watch("b") as b, hub.watch("a") as a2:
            assert hub.watching == 3
            hub.changed("a")
            await asyncio.wait_for(a.wait(), timeout=1)
            await asyncio.wait_for(a2.wait(), timeout=1)
            try:
                await asyncio.wait_for(b.wait(), timeout=0.1)
            except TimeoutError:
                pass
            else:
                raise AssertionError("b was woken by a change of a")
            hub.changed("nobody watches this")
        assert hub.watching == 0
        assert hub.problem == Hub.NOT_YET

    asyncio.run(scenario())
