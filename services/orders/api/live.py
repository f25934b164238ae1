"""GET /orders/{id}/events: an order's timeline as Server-Sent Events, live (docs/storefront.md).

Resuming: the client says the last position it has (`Last-Event-ID`, which the browser sends by
itself when it reconnects, or `?after=` for a stream opened anew); the stream first watches the
order in the hub, then reads from the database what came after that position, then waits for the
hub to wake it, and reads again. Each step goes out once, with its position as the event id, in
order: a step at or before the last position sent is never sent again. Control frames (`retry`,
pings) carry no id, so they never move the browser's cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.sse import ServerSentEvent

from services.orders.live import Hub
from services.orders.read import TimelineStep

RECONNECT_MS = 1000  # how long a browser waits before it reconnects a lost stream

ReadSteps = Callable[[str, int], Awaitable[list[TimelineStep]]]


async def order_steps(
    order_id: str, after: int, hub: Hub, read: ReadSteps
) -> AsyncIterator[ServerSentEvent]:
    """The stream's events: what came after `after`, then each new step as it happens."""
    yield ServerSentEvent(retry=RECONNECT_MS)
    with hub.watch(order_id) as watcher:  # subscribe first: a change from now on wakes us
        while True:
            watcher.clear()  # before the read, so a change during it makes us read again
            for step in await read(order_id, after):
                if step.position > after:
                    after = step.position
                    yield ServerSentEvent(event="step", id=str(step.position), data=step)
            await watcher.wait()
