"""The outbox under failure, with the API and the relay as real processes.

Broker down (relay pointed at a closed port), relay killed -9 with a backlog, API killed -9 and
wake-ups lost, two relays at once. Every accepted order's event arrives, once, in commit order.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx

from services.common.db import Database
from services.orders.models import OutboxMessage
from tests.e2e.orders.conftest import RelayFactory, start_api
from tests.support.broker import TestBroker
from tests.support.orders import order_body, tap_orders_exchange
from tests.support.outbox_tables import backlog as backlog_of
from tests.support.polling import wait_until
from tests.support.ports import free_port

PUBLISHED = r"published \d+ event"


def place(api: httpx.Client, count: int, tag: str) -> list[str]:
    ids = []
    for i in range(count):
        resp = api.post("/orders", json=order_body(f"{tag}{i}@example.com"))
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["id"])
    return ids


def backlog(url: str) -> int:
    db = Database(url)
    try:
        return backlog_of(db, OutboxMessage)
    finally:
        db.dispose()


def wait_until_marked(url: str) -> None:
    """The relay marks rows just after the confirm; killing it in between means a (legitimate)
    re-publish, which these tests do not want to provoke."""
    wait_until(lambda: backlog(url) == 0, timeout=60, message="every outbox row marked published")


def test_broker_outage_keeps_accepting_and_drains_in_order_after_recovery(
    api: httpx.Client, make_relay: RelayFactory, broker: TestBroker, orders_db_url: str
) -> None:
    cut_off = make_relay("relay-no-broker", BROKER_PORT=str(free_port())).start()
    with tap_orders_exchange(broker) as tap:
        ids = place(api, 10, "outage")
        cut_off.wait_for_log(r"broker unavailable", timeout=60)
        cut_off.wait_for_log(r"retrying in", timeout=60)
        assert backlog(orders_db_url) == 10
        assert tap.order_ids() == []
        cut_off.terminate()

        make_relay("relay-recovered").start()
        assert tap.wait_for(ids, timeout=90) == ids
    assert backlog(orders_db_url) == 0


def test_relay_killed_with_a_backlog_publishes_it_after_restart(
    api: httpx.Client, make_relay: RelayFactory, broker: TestBroker, orders_db_url: str
) -> None:
    first = make_relay("relay-1").start()
    with tap_orders_exchange(broker) as tap:
        before = place(api, 1, "before")
        tap.wait_for(before)
        wait_until_marked(orders_db_url)
        first.kill9()

        committed = place(api, 5, "while-dead")  # committed, nobody publishing
        assert backlog(orders_db_url) == 5

        make_relay("relay-2").start()
        assert tap.wait_for(committed, timeout=90) == before + committed


def test_api_killed_and_wake_ups_lost_events_still_go_out_by_polling(
    make_relay: RelayFactory,
    broker: TestBroker,
    orders_env: dict[str, str],
    tmp_path: Path,
    orders_db_url: str,
) -> None:
    relay = make_relay("relay").start()
    relay.wait_for_log(r"relay running", timeout=60)
    # The API sends its wake-ups to a port nobody listens on: only the fallback poll remains.
    api_proc, url = start_api(
        orders_env, tmp_path, ORDERS_RELAY_WAKE_PORT=str(free_port(socket.SOCK_DGRAM))
    )
    try:
        with tap_orders_exchange(broker) as tap, httpx.Client(base_url=url, timeout=30) as api:
            ids = place(api, 3, "api-dies")
            api_proc.kill9()
            assert tap.wait_for(ids, timeout=60) == ids
    finally:
        api_proc.stop()
    assert backlog(orders_db_url) == 0


def test_two_relays_publish_each_event_once_and_the_standby_takes_over(
    api: httpx.Client, make_relay: RelayFactory, broker: TestBroker, orders_db_url: str
) -> None:
    relays = [make_relay("relay-a").start(), make_relay("relay-b").start()]
    with tap_orders_exchange(broker) as tap:
        first = place(api, 20, "pair")
        assert tap.wait_for(first, timeout=60) == first
        wait_until_marked(orders_db_url)
        leader = next(r for r in relays if "acquired" in r.log())
        standby = next(r for r in relays if r is not leader)
        assert "acquired" not in standby.log()

        leader.kill9()
        second = place(api, 5, "takeover")
        assert tap.wait_for(second, timeout=90) == first + second
        wait_until(lambda: "acquired" in standby.log(), timeout=30, message="standby took over")
        # The relay logs a batch after marking it, which can be after the tap has the events.
        wait_until(
            lambda: re.search(PUBLISHED, standby.log()), timeout=30, message="standby published"
        )
