"""The bridge against the real broker: as `<vhost>-storefront` it consumes the order events that
end PENDING through its own exclusive queue, wakes the streams of that order, and leaves nothing
behind when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import SecretStr

from services.common import topology as t
from services.common.events import Envelope, OrderExpired
from services.orders.live import Hub, LiveBridge
from tests.support.broker import TestBroker
from tests.support.factories import order_confirmed_event, order_placed_event
from tests.support.polling import wait_until


def storefront_url(broker: TestBroker) -> str:
    user = t.user_name(broker.vhost, t.STOREFRONT)
    return broker.settings.amqp_url(user, SecretStr(broker.passwords[user]))


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """`wait_until` off the event loop, which goes on running the bridge's callbacks."""
    await asyncio.to_thread(wait_until, condition, timeout=20, message=what)


def storefront_connections(broker: TestBroker) -> int:
    user = t.user_name(broker.vhost, t.STOREFRONT)
    with broker.management() as api:
        found = api.get(api.path("vhosts", broker.vhost, "connections")) or []
    return sum(1 for c in found if c["user"] == user)


def test_an_event_on_the_orders_exchange_wakes_the_streams_of_its_order(
    broker: TestBroker,
) -> None:
    confirmed = order_confirmed_event()
    expired = Envelope.wrap(OrderExpired(order_id="order-2", customer_email="b@example.org"))
    placed = order_placed_event()

    async def scenario() -> None:
        hub = Hub()
        bridge = LiveBridge([storefront_url(broker)], hub, asyncio.get_running_loop(), timeout=2)
        bridge.start()
        try:
            await eventually(lambda: hub.problem is None, "the bridge subscribed")
            with (
                hub.watch(confirmed.data.order_id) as first,
                hub.watch("order-2") as second,
                hub.watch(placed.data.order_id) as third,
            ):
                await asyncio.to_thread(broker.publish_event, placed)  # not a key it binds
                await asyncio.to_thread(
                    broker.publish_raw, b"not json", exchange="orders", routing_key="order.expired"
                )
                await asyncio.to_thread(broker.publish_event, confirmed)
                await asyncio.to_thread(broker.publish_event, expired)
                await asyncio.wait_for(first.wait(), timeout=20)
                await asyncio.wait_for(second.wait(), timeout=20)
                try:
                    await asyncio.wait_for(third.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                else:
                    raise AssertionError("order.placed reached the bridge")
        finally:
            await asyncio.to_thread(bridge.stop)

    asyncio.run(scenario())
    # The queue was exclusive: it went with the connection.
    wait_until(lambda: storefront_connections(broker) == 0, timeout=20)


def test_unreachable_broker_is_reported_and_retried(broker: TestBroker) -> None:
    async def scenario() -> None:
        hub = Hub()
        url = storefront_url(broker).replace(f":{broker.settings.port}/", ":1/")
        bridge = LiveBridge([url], hub, asyncio.get_running_loop(), timeout=1, backoff=(0.05, 0.1))
        bridge.start()
        try:
            await eventually(
                lambda: (hub.problem or "").startswith("broker unreachable"), "the failure"
            )
        finally:
            await asyncio.to_thread(bridge.stop)

    asyncio.run(scenario())
