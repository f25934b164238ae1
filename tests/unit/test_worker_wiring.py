"""The shared pieces every worker is wired from: the handler table check, dependency injection
by parameter name, the one backoff rule, and waking the relay after a commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from services.common.backoff import equal_jitter
from services.common.db import Database
from services.common.events import Envelope
from services.common.outbox import add_event, wake_relay_after_commit
from services.common.topology import ORDER_EXPIRED, ORDER_PLACED, Service
from services.common.worker.service import check_handlers, inject
from tests.support.factories import order_placed
from tests.support.outbox_tables import Base, Outbox


def handle(event: str, db: str, store: str, clock: str = "real clock") -> tuple[str, ...]:
    return (event, db, store, clock)


@dataclass
class Container:
    db: str
    store: str
    unused: str


def test_handlers_must_match_the_queues_bindings() -> None:
    check_handlers(Service.INVENTORY, {ORDER_PLACED: handle, ORDER_EXPIRED: handle})
    with pytest.raises(ValueError, match=r"unhandled \['order.expired'\]"):
        check_handlers(Service.INVENTORY, {ORDER_PLACED: handle})
    with pytest.raises(ValueError, match=r"never delivered \['order.confirmed'\]"):
        check_handlers(
            Service.INVENTORY,
            {ORDER_PLACED: handle, ORDER_EXPIRED: handle, "order.confirmed": handle},
        )


def test_dependencies_are_injected_by_parameter_name() -> None:
    bound = inject(handle, Container(db="the db", store="the store", unused="x"), skip=1)
    assert bound("an event") == ("an event", "the db", "the store", "real clock")


def test_a_dependency_the_container_lacks_is_named() -> None:
    @dataclass
    class Thin:
        db: str

    with pytest.raises(TypeError, match=r"handle needs \['store'\]"):
        inject(handle, Thin(db="the db"), skip=1)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(0, 1.0), (1, 2.0), (3, 8.0), (4, 10.0), (99, 10.0)]
)
def test_backoff_is_equal_jitter_under_a_doubling_capped_ceiling(
    attempt: int, ceiling: float
) -> None:
    assert equal_jitter(attempt, base=1.0, cap=10.0, rand=lambda: 0.0) == ceiling / 2
    assert equal_jitter(attempt, base=1.0, cap=10.0, rand=lambda: 1.0) == ceiling
    delays = {equal_jitter(attempt, base=1.0, cap=10.0) for _ in range(50)}
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(delays) > 1  # jittered


class Wakeups:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/outbox.db")
    Base.metadata.create_all(database.engine)
    return database


def add_row(db: Database) -> None:
    with db.transaction() as session:
        add_event(session, Outbox, Envelope.wrap(order_placed()), aggregate_id="order-1")


def test_the_relay_is_woken_after_each_commit_that_added_an_outbox_row(db: Database) -> None:
    wakeups = Wakeups()
    wake_relay_after_commit(db, wakeups)

    add_row(db)
    add_row(db)
    assert wakeups.count == 2
    with db.transaction() as session:  # a transaction without an outbox row
        session.execute(Outbox.__table__.select())
    assert wakeups.count == 2


def test_a_rolled_back_outbox_row_wakes_nobody_now_or_later(db: Database) -> None:
    wakeups = Wakeups()
    wake_relay_after_commit(db, wakeups)

    def fail_after_adding() -> None:
        with db.transaction() as session:
            add_event(session, Outbox, Envelope.wrap(order_placed()), aggregate_id="order-1")
            raise RuntimeError("the handler failed after adding its event")

    with pytest.raises(RuntimeError):
        fail_after_adding()
    with db.transaction() as session:
        session.execute(Outbox.__table__.select())
    assert wakeups.count == 0
