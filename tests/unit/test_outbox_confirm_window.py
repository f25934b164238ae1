"""PikaPublisher's confirm window against a scripted broker: which prefix counts as confirmed.

The broker is played by a stub `AmqpLink`: each `run` (the publisher waiting for the broker)
delivers the next scripted step (acks, nacks, returns, a channel close, a lost connection) to the
callbacks the window registered on its channel, as pika's I/O loop would; with the script used
up, the broker is silent and the stub's clock moves on by the whole wait. The real link and the
real broker: tests/integration/test_outbox_publisher.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, StreamLostError

from services.common.outbox import (
    BrokerUnavailable,
    OutboundMessage,
    PikaPublisher,
    PublishRejected,
)
from services.common.outbox import pika_publisher as module
from services.common.outbox.publisher import BatchResult

Step = Callable[["Broker"], None]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class AsyncChannel:
    """pika's asynchronous channel: only what the window uses."""

    def __init__(self) -> None:
        self.on_confirm: Callable[[Any], None] | None = None
        self.on_return: Callable[..., None] | None = None
        self.on_close: Callable[[Any, Exception], None] | None = None
        self.published: list[str] = []  # message ids
        self.is_open = True

    def add_on_close_callback(self, callback: Callable[[Any, Exception], None]) -> None:
        self.on_close = callback

    def add_on_return_callback(self, callback: Callable[..., None]) -> None:
        self.on_return = callback

    def confirm_delivery(
        self, ack_nack_callback: Callable[[Any], None], callback: Callable[[Any], None]
    ) -> None:
        self.on_confirm = ack_nack_callback
        callback(pika.frame.Method(1, pika.spec.Confirm.SelectOk()))  # the broker's select-ok

    def basic_publish(
        self, exchange: str, key: str, body: bytes, props: Any, mandatory: bool
    ) -> None:
        assert mandatory
        assert self.is_open
        self.published.append(props.message_id)


class Broker:
    """A stub AmqpLink; `script` holds one list of steps per `run` that has something to wait
    for."""

    node = pika.ConnectionParameters("127.0.0.1", 1)

    def __init__(self, *script: list[Step], clock: Clock | None = None) -> None:
        self.script: deque[list[Step]] = deque(script)
        self.clock = clock or Clock()
        self.channels: list[AsyncChannel] = []
        self.error: BaseException | None = None
        self.closed = False
        self.runs = 0

    @property
    def is_open(self) -> bool:
        return self.error is None and not self.closed

    @property
    def impl(self) -> AsyncChannel:
        return self.channels[-1]

    def channel(self, _timeout: float) -> AsyncChannel:
        self.channels.append(AsyncChannel())
        return self.channels[-1]

    def run(self, done: Callable[[], bool], timeout: float) -> bool:
        if done() or self.error is not None:
            return True
        self.runs += 1
        if not self.script:
            self.clock.now += timeout  # silence
            assert self.runs < 1000, "the publisher waits for ever (does it read this clock?)"
            return False
        for step in self.script.popleft():
            step(self)
        return done() or self.error is not None

    def wake(self) -> None:
        pass

    def process_ready(self) -> None:
        self.run(lambda: False, 0.0)

    def close(self) -> None:
        self.closed = True

    # -- what the broker can send -------------------------------------------------------------

    def frame(self, method: Any) -> None:
        assert self.impl.on_confirm is not None
        self.impl.on_confirm(pika.frame.Method(1, method))


def ack(tag: int, multiple: bool = False) -> Step:
    return lambda b: b.frame(pika.spec.Basic.Ack(delivery_tag=tag, multiple=multiple))


def nack(tag: int, multiple: bool = False) -> Step:
    return lambda b: b.frame(pika.spec.Basic.Nack(delivery_tag=tag, multiple=multiple))


def returned(message_id: str | None) -> Step:
    def step(b: Broker) -> None:
        assert b.impl.on_return is not None
        method = pika.spec.Basic.Return(312, "NO_ROUTE", "events", "nowhere")
        b.impl.on_return(b.impl, method, pika.BasicProperties(message_id=message_id), b"")

    return step


def channel_closed(b: Broker) -> None:
    assert b.impl.on_close is not None
    b.impl.is_open = False
    b.impl.on_close(b.impl, ChannelClosedByBroker(404, "NOT_FOUND - no exchange 'events'"))


def connection_lost(b: Broker) -> None:
    b.impl.is_open = False
    b.error = StreamLostError("Transport indicated EOF")


def later(seconds: float) -> Step:
    def step(b: Broker) -> None:
        b.clock.now += seconds

    return step


def messages(n: int) -> list[OutboundMessage]:
    return [OutboundMessage(i, f"e{i}", "order.placed", "c", b"{}") for i in range(1, n + 1)]


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> list[Broker]:
    """Queue Broker objects here; each (re)connect of the publisher takes the next one."""
    brokers: list[Broker] = []

    class Link:
        @staticmethod
        def connect(_params: Any) -> Broker:
            if not brokers:
                raise AMQPConnectionError("connection refused")
            return brokers.pop(0)

    monkeypatch.setattr(module, "AmqpLink", Link)
    return brokers


def publisher(
    window: int = 256, confirm_timeout: float = 30.0, clock: Clock | None = None
) -> PikaPublisher:
    return PikaPublisher(
        ["amqp://u:p@127.0.0.1:1/v"],
        "events",
        window=window,
        confirm_timeout=confirm_timeout,
        monotonic=clock or Clock(),
    )


def error_of(result: BatchResult) -> tuple[int, type[Exception], str]:
    assert result.failure is not None
    error = result.failure.error
    return result.failure.message.row_id, type(error), str(error)


def test_acks_in_any_order_and_multiple_confirm_the_whole_batch(connect: list[Broker]) -> None:
    connect.append(Broker([ack(2), ack(4)], [ack(3, multiple=True)], [ack(5), ack(1)]))
    result = publisher().publish_batch(messages(5))
    assert result == BatchResult((1, 2, 3, 4, 5))


def test_a_returned_message_is_a_failure_although_acked(connect: list[Broker]) -> None:
    # RabbitMQ sends basic.return before the basic.ack of the same message.
    connect.append(Broker([ack(2), returned("e3"), ack(5, multiple=True)]))
    result = publisher().publish_batch(messages(5))
    assert result.confirmed == (1, 2)
    row, kind, text = error_of(result)
    assert (row, kind) == (3, PublishRejected)
    assert "unroutable" in text
    assert "312 NO_ROUTE" in text
    assert "'order.placed'" in text


def test_a_return_without_a_known_id_fails_the_oldest_message_in_flight(
    connect: list[Broker],
) -> None:
    connect.append(Broker([ack(1), returned(None), ack(3, multiple=True)]))
    result = publisher().publish_batch(messages(3))
    assert result.confirmed == (1,)
    assert error_of(result)[:2] == (2, PublishRejected)


def test_a_nack_breaks_the_prefix_even_if_later_messages_are_acked(
    connect: list[Broker],
) -> None:
    connect.append(Broker([ack(3), nack(2), ack(1)]))
    result = publisher().publish_batch(messages(3))
    assert result.confirmed == (1,)
    assert error_of(result)[:2] == (2, PublishRejected)
    assert "nacked" in error_of(result)[2]


def test_the_window_bounds_what_is_in_flight_and_a_failure_stops_the_sending(
    connect: list[Broker],
) -> None:
    broker = Broker([ack(1)], [nack(2)], [ack(3)])
    connect.append(broker)
    result = publisher(window=2).publish_batch(messages(10))
    # 1 and 2 fill the window; 1's ack lets 3 go; 2's nack stops the batch; 3 is waited for.
    assert broker.impl.published == ["e1", "e2", "e3"]
    assert result.confirmed == (1,)
    assert error_of(result)[:2] == (2, PublishRejected)


def test_the_next_batch_starts_clean_on_the_same_channel(connect: list[Broker]) -> None:
    broker = Broker([nack(1), ack(2)], [ack(4, multiple=True)])
    connect.append(broker)
    pub = publisher()
    assert pub.publish_batch(messages(2)).confirmed == ()
    again = pub.publish_batch(messages(2))
    assert again == BatchResult((1, 2))
    assert len(broker.channels) == 1  # tags 3 and 4 on the same channel


def test_connection_lost_mid_window_keeps_only_the_acked_prefix(connect: list[Broker]) -> None:
    first, second = Broker([ack(1), ack(3), connection_lost]), Broker([ack(1)])
    connect.extend([first, second])
    pub = publisher()
    result = pub.publish_batch(messages(4))
    assert result.confirmed == (1,)
    row, kind, text = error_of(result)
    assert (row, kind) == (2, BrokerUnavailable)
    assert "StreamLostError" in text
    assert first.closed  # closed; the next batch reconnects
    assert pub.publish_batch(messages(1)) == BatchResult((1,))


def test_a_failure_after_every_ack_is_charged_to_the_next_message(connect: list[Broker]) -> None:
    broker = Broker([ack(1), connection_lost])
    connect.append(broker)
    result = publisher(window=1).publish_batch(messages(3))
    assert result.confirmed == (1,)
    assert error_of(result)[:2] == (2, BrokerUnavailable)
    assert broker.impl.published == ["e1"]


def test_no_connection_fails_the_first_message(connect: list[Broker]) -> None:
    result = publisher().publish_batch(messages(3))  # no broker queued: refused
    assert result.confirmed == ()
    row, kind, text = error_of(result)
    assert (row, kind) == (1, BrokerUnavailable)
    assert "connection refused" in text


def test_channel_closed_by_the_broker_is_a_rejection_and_a_new_channel_follows(
    connect: list[Broker],
) -> None:
    broker = Broker([ack(1), channel_closed], [ack(1)])
    connect.append(broker)
    pub = publisher()
    result = pub.publish_batch(messages(3))
    assert result.confirmed == (1,)
    row, kind, text = error_of(result)
    assert (row, kind) == (2, PublishRejected)
    assert "channel closed by the broker: 404" in text
    assert pub.publish_batch(messages(1)) == BatchResult((1,))
    assert len(broker.channels) == 2
    assert broker.is_open


def test_a_channel_closed_while_idle_is_replaced_before_the_next_batch(
    connect: list[Broker],
) -> None:
    clock = Clock()
    broker = Broker([ack(1)], [channel_closed], [ack(1)], clock=clock)
    connect.append(broker)
    pub = publisher(clock=clock)
    assert pub.publish_batch(messages(1)) == BatchResult((1,))
    clock.now += module.IDLE_IO_INTERVAL
    pub.idle()  # the broker closes the channel meanwhile
    assert pub.publish_batch(messages(1)) == BatchResult((1,))
    assert len(broker.channels) == 2


def test_idle_reads_nothing_right_after_a_batch_and_keeps_the_connection_alive_later(
    connect: list[Broker],
) -> None:
    clock = Clock()
    broker = Broker([ack(1)], clock=clock)
    connect.append(broker)
    pub = publisher(clock=clock)
    pub.publish_batch(messages(1))
    runs = broker.runs
    pub.idle()  # the batch has just read what the broker sent
    assert broker.runs == runs
    clock.now += module.IDLE_IO_INTERVAL
    pub.idle()  # heartbeats and closes get read
    assert broker.runs == runs + 1


def test_a_connection_lost_while_idle_is_closed_and_the_next_batch_reconnects(
    connect: list[Broker],
) -> None:
    clock = Clock()
    first, second = Broker([ack(1)], [connection_lost], clock=clock), Broker([ack(1)])
    connect.extend([first, second])
    pub = publisher(clock=clock)
    pub.publish_batch(messages(1))
    clock.now += module.IDLE_IO_INTERVAL
    pub.idle()
    assert first.closed
    assert pub.publish_batch(messages(1)) == BatchResult((1,))


def test_no_confirm_within_the_timeout_is_broker_unavailable(connect: list[Broker]) -> None:
    broker = Broker([ack(1)])  # then silence
    connect.append(broker)
    result = publisher(confirm_timeout=30, clock=broker.clock).publish_batch(messages(2))
    assert result.confirmed == (1,)
    row, kind, text = error_of(result)
    assert (row, kind) == (2, BrokerUnavailable)
    assert "no confirm" in text
    assert broker.closed


def test_the_confirm_timeout_counts_from_the_last_confirm(connect: list[Broker]) -> None:
    """A slow but steady broker is not a dead one: each confirm restarts the time limit."""
    broker = Broker([later(20), ack(1)], [later(20), ack(2)], [later(20), ack(3)])
    connect.append(broker)
    result = publisher(confirm_timeout=30, clock=broker.clock).publish_batch(messages(3))
    assert result == BatchResult((1, 2, 3))  # 60 s in all, never 30 s without a confirm


def test_an_iterable_that_ends_early_publishes_only_what_it_gave(connect: list[Broker]) -> None:
    broker = Broker([ack(2, multiple=True)])
    connect.append(broker)

    def two_then_stop() -> Iterator[OutboundMessage]:
        yield from messages(5)[:2]

    assert publisher().publish_batch(two_then_stop()) == BatchResult((1, 2))
    assert broker.impl.published == ["e1", "e2"]


def test_an_empty_batch_does_not_connect(connect: list[Broker]) -> None:
    assert publisher().publish_batch([]) == BatchResult()
