"""The relay's windowed publisher against the real broker: which rows end up marked published.

Each test gets an exchange and a queue of its own in the session's throwaway vhost (no alternate
exchange, so an unroutable message comes back as a basic.return), an outbox in a SQLite file, and
the real `OutboxRelay` with the real `PikaPublisher`. Broker-side faults happen between two
messages of a batch: the publisher takes each message from its iterable just before sending it,
and `Interpose` runs the fault there.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from services.common.db import Database
from services.common.events import Envelope
from services.common.outbox import (
    BrokerUnavailable,
    Lease,
    OutboundMessage,
    OutboxRelay,
    OutboxStore,
    PikaPublisher,
    PublishRejected,
    RelayTuning,
    add_event,
)
from services.common.outbox.publisher import BatchResult
from services.common.topology import ORDER_CONFIRMED, ORDER_PLACED
from tests.support.broker import TestBroker
from tests.support.factories import order_confirmed_event, order_placed
from tests.support.outbox_tables import Base, Leases, Outbox
from tests.support.polling import wait_until
from tests.support.ports import free_port


@dataclass
class Target:
    """An exchange and one queue bound to it for `order.placed` only."""

    broker: TestBroker
    exchange: str
    queue: str

    def bind(self, routing_key: str) -> None:
        with self.broker.channel() as ch:
            ch.queue_bind(self.queue, self.exchange, routing_key)

    def received(self) -> list[str]:
        return [props.message_id for props, _ in self.broker.drain(self.queue)]

    def publisher(self, window: int, name: str) -> PikaPublisher:
        b = self.broker
        urls = b.settings.amqp_urls(b.admin_user, SecretStr(b.admin_password))
        return PikaPublisher(urls, self.exchange, window=window, name=name, confirm_timeout=30)


@pytest.fixture
def target(broker: TestBroker) -> Iterator[Target]:
    suffix = secrets.token_hex(4)
    t = Target(broker, f"outbox-test.{suffix}", f"outbox-test.{suffix}")
    with broker.channel() as ch:
        ch.exchange_declare(t.exchange, "topic", durable=True)
        ch.queue_declare(t.queue, durable=True)
        ch.queue_bind(t.queue, t.exchange, ORDER_PLACED)
    yield t
    with broker.channel() as ch:
        ch.queue_delete(t.queue)
        ch.exchange_delete(t.exchange)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/outbox.db")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def commit(db: Database, envelope: Envelope[Any]) -> str:
    with db.transaction() as session:
        add_event(session, Outbox, envelope, aggregate_id=envelope.data.order_id)
    return envelope.id


def commit_placed(db: Database, count: int) -> list[str]:
    return [commit(db, Envelope.wrap(order_placed())) for _ in range(count)]


def marked(db: Database) -> list[bool]:
    with db.transaction() as session:
        return [
            r is not None for r in session.scalars(select(Outbox.published_at).order_by(Outbox.id))
        ]


def rows(db: Database) -> list[Outbox]:
    with db.transaction() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


class Interpose:
    """The relay's publisher, with `fault` run once when it takes message number `before` (from
    1) of a batch: after the window had room for it, before its publish."""

    def __init__(self, inner: PikaPublisher, before: int, fault: Callable[[], None]) -> None:
        self.inner = inner
        self.before = before
        self.fault: Callable[[], None] | None = fault

    def publish_batch(self, messages: Iterable[OutboundMessage]) -> BatchResult:
        return self.inner.publish_batch(self._interposed(messages))

    def _interposed(self, messages: Iterable[OutboundMessage]) -> Iterator[OutboundMessage]:
        for number, message in enumerate(messages, start=1):
            if number == self.before and self.fault is not None:
                fault, self.fault = self.fault, None
                fault()
            yield message

    def idle(self) -> None:
        self.inner.idle()

    def close(self) -> None:
        self.inner.close()


def relay(db: Database, publisher: PikaPublisher | Interpose) -> OutboxRelay:
    return OutboxRelay(
        OutboxStore(db, Outbox),
        publisher,
        Lease(db, Leases, "test.outbox", ttl=30),
        config=RelayTuning(batch_size=100),
    )


def test_a_batch_is_confirmed_marked_and_delivered_in_commit_order(
    target: Target, db: Database
) -> None:
    ids = commit_placed(db, 40)
    pub = target.publisher(window=8, name=f"outbox-test-{secrets.token_hex(4)}")
    try:
        result = relay(db, pub).run_once()
    finally:
        pub.close()
    assert (result.published, result.error) == (40, None)
    assert all(marked(db))
    assert target.received() == ids


def test_an_unroutable_message_mid_batch_leaves_it_and_the_later_rows_pending(
    target: Target, db: Database
) -> None:
    before = commit_placed(db, 3)
    stray = commit(db, order_confirmed_event())  # nothing is bound for order.confirmed
    after = commit_placed(db, 3)
    pub = target.publisher(window=100, name=f"outbox-test-{secrets.token_hex(4)}")
    outbox_relay = relay(db, pub)
    try:
        result = outbox_relay.run_once()
        assert result.published == 3
        assert result.error is not None
        assert "unroutable" in result.error
        assert marked(db) == [True] * 3 + [False] * 4
        failed = rows(db)[3]
        assert failed.attempts == 1
        assert failed.last_error is not None
        assert ORDER_CONFIRMED in failed.last_error
        first_delivery = target.received()
        assert first_delivery[:3] == before
        assert stray not in first_delivery
        assert set(first_delivery[3:]) <= set(after)  # in flight in the same window, or not

        target.bind(ORDER_CONFIRMED)
        assert outbox_relay.run_once().published == 4
    finally:
        pub.close()
    assert all(marked(db))
    assert target.received() == [stray, *after]  # again: the consumers' inbox drops repeats


def test_a_nack_mid_batch_marks_only_the_rows_before_it(
    broker: TestBroker, target: Target, db: Database
) -> None:
    with broker.channel() as ch:  # a second queue that refuses a third message: the broker nacks
        ch.queue_declare(
            f"{target.queue}.full",
            arguments={"x-max-length": 2, "x-overflow": "reject-publish"},
            auto_delete=True,
        )
        ch.queue_bind(f"{target.queue}.full", target.exchange, ORDER_PLACED)
        ids = commit_placed(db, 4)
        pub = target.publisher(window=100, name=f"outbox-test-{secrets.token_hex(4)}")
        try:
            result = relay(db, pub).run_once()
        finally:
            pub.close()
        ch.queue_delete(f"{target.queue}.full")
    assert result.published == 2
    assert result.error is not None
    assert "nacked" in result.error
    assert marked(db) == [True, True, False, False]
    assert target.received()[:2] == ids[:2]


def close_connection(broker: TestBroker, name: str) -> Callable[[], None]:
    """The broker closes the connection named `name`, as `rabbitmqctl close_connection` does.

    The management API's DELETE returns once the broker has sent connection.close; from then on
    it ignores whatever else the client sends. (It forgets the connection only after the client's
    close-ok or a 30 s timeout, so the test does not wait for that.)
    """

    def ours() -> str | None:
        with broker.management() as api:
            found = api.get(api.path("vhosts", broker.vhost, "connections")) or []
        names = [c["name"] for c in found if c["client_properties"].get("connection_name") == name]
        return names[0] if names else None

    def fault() -> None:
        conn = wait_until(ours, timeout=30, message=f"connection {name} listed")
        with broker.management() as api:
            api.delete(api.path("connections", conn))

    return fault


def test_connection_closed_mid_batch_marks_nothing_after_the_last_ack(
    broker: TestBroker, target: Target, db: Database
) -> None:
    ids = commit_placed(db, 8)
    name = f"outbox-test-{secrets.token_hex(4)}"
    pub = target.publisher(window=2, name=name)
    # The publisher takes message 4 once the window of 2 has room: 1 and 2 are acked by then.
    outbox_relay = relay(db, Interpose(pub, before=4, fault=close_connection(broker, name)))
    try:
        result = outbox_relay.run_once()
        assert result.error is not None
        assert 2 <= result.published <= 3
        assert marked(db) == [True] * result.published + [False] * (8 - result.published)
        failed = rows(db)[result.published]
        assert failed.last_error is not None
        assert failed.last_error == result.error
        delivered = target.received()
        assert delivered[: result.published] == ids[: result.published]
        assert set(delivered) <= set(ids[:3])  # nothing went out after the close

        assert outbox_relay.run_once().published == 8 - result.published  # reconnects
    finally:
        pub.close()
    assert all(marked(db))
    assert set(target.received()) == set(ids[result.published :])


def test_connection_closed_error_is_broker_unavailable(
    broker: TestBroker, target: Target, db: Database
) -> None:
    commit_placed(db, 3)
    name = f"outbox-test-{secrets.token_hex(4)}"
    pub = target.publisher(window=1, name=name)
    fault = close_connection(broker, name)
    try:
        messages = OutboxStore(db, Outbox).pending(10)
        result = pub.publish_batch(Interpose(pub, 2, fault)._interposed(messages))
    finally:
        pub.close()
    assert result.confirmed == (messages[0].row_id,)  # a window of 1: acked before the fault
    assert result.failure is not None
    assert result.failure.message == messages[1]
    assert isinstance(result.failure.error, BrokerUnavailable)


def test_channel_closed_by_the_broker_mid_batch_is_a_rejection(
    broker: TestBroker, target: Target, db: Database
) -> None:
    commit_placed(db, 3)
    pub = target.publisher(window=1, name=f"outbox-test-{secrets.token_hex(4)}")

    def delete_exchange() -> None:
        with broker.channel() as ch:
            ch.exchange_delete(target.exchange)

    try:
        messages = OutboxStore(db, Outbox).pending(10)
        result = pub.publish_batch(Interpose(pub, 2, delete_exchange)._interposed(messages))
    finally:
        pub.close()
    assert result.confirmed == (messages[0].row_id,)
    assert result.failure is not None
    assert result.failure.message == messages[1]
    assert isinstance(result.failure.error, PublishRejected)
    assert "channel closed by the broker: 404" in str(result.failure.error)


def test_a_node_that_does_not_answer_is_skipped_for_the_next_one(
    broker: TestBroker, target: Target, db: Database
) -> None:
    """BROKER_NODES: the publisher tries each node in turn and publishes through the first that
    answers."""
    ids = commit_placed(db, 2)
    b = broker
    live = b.settings.amqp_urls(b.admin_user, SecretStr(b.admin_password))
    dead = [url.replace(f":{b.settings.port}/", f":{free_port()}/") for url in live]
    pub = PikaPublisher([*dead, *live], target.exchange, timeout=2, name="outbox-test-failover")
    try:
        result = relay(db, pub).run_once()
    finally:
        pub.close()
    assert (result.published, result.error) == (2, None)
    assert target.received() == ids
