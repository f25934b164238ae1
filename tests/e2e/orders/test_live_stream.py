"""The live path end to end, with the API and the relay as processes: a step committed by the
worker's handler goes out through the outbox, the relay, the `orders` exchange and the API's own
exclusive queue to an open event stream; a stream resumed with Last-Event-ID (or `?after=`) gets
exactly what came after; and after a broker restart the stream catches up by itself."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common.db import Database
from services.orders.decide import confirm_order, reject_order
from services.orders.read import OrderView
from tests.e2e.orders.conftest import RelayFactory, start_api
from tests.support.broker import TestBroker
from tests.support.orders import order_body, stock_rejected, stock_reserved
from tests.support.polling import wait_until
from tests.support.private_rabbit import PrivateRabbit
from tests.support.processes import PYTHON, REPO_ROOT
from tests.support.sse import SseStream


def place(url: str) -> OrderView:
    resp = httpx.post(f"{url}/orders", json=order_body(), timeout=10)
    assert resp.status_code == 202, resp.text
    return OrderView.model_validate(resp.json())


def test_a_step_goes_live_and_a_resumed_stream_gets_exactly_what_came_after(
    broker: TestBroker, orders_env: dict[str, str], make_relay: RelayFactory, tmp_path: Path
) -> None:
    api, url = start_api(orders_env, tmp_path)
    relay = make_relay()
    relay.start()
    db = Database(orders_env["ORDERS_DATABASE_URL"])
    try:
        wait_until(lambda: httpx.get(f"{url}/ready").status_code == 200, timeout=30)
        order = place(url)
        stream = SseStream(f"{url}/orders/{order.id}/events")
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        first = stream.next()
        assert (first.retry, first.id, first.event) == (1000, None, None)
        [accepted] = stream.steps(1)
        assert accepted.json()["what"] == "order accepted"

        confirm_order(stock_reserved(order), db)  # the worker's handler: steps + outbox row
        reserved, confirmed = stream.steps(2)
        assert [e.json()["status"] for e in (reserved, confirmed)] == ["CONFIRMED"] * 2
        ids = [int(e.id or 0) for e in (accepted, reserved, confirmed)]
        assert ids == sorted(set(ids))
        assert [e.json()["position"] for e in (accepted, reserved, confirmed)] == ids
        assert stream.quiet_for(0.5)
        stream.close()

        resumed = SseStream(
            f"{url}/orders/{order.id}/events", headers={"Last-Event-ID": accepted.id or ""}
        )
        assert [e.id for e in resumed.steps(2)] == [reserved.id, confirmed.id]
        assert resumed.quiet_for(0.5)
        resumed.close()
        after = SseStream(f"{url}/orders/{order.id}/events?after={confirmed.id}")
        assert after.quiet_for(0.5)
        after.close()
    finally:
        db.dispose()
        api.stop()


@pytest.fixture(scope="module")
def restartable_broker(
    tmp_path_factory: pytest.TempPathFactory, test_broker: TestBroker
) -> Iterator[PrivateRabbit]:
    """A RabbitMQ node of our own (the shared one must never be restarted), with the test
    vhost provisioned by the vhost tool."""
    node = PrivateRabbit.create(tmp_path_factory.mktemp("live-rabbit"))
    node.start()
    try:
        proc = subprocess.run(
            [PYTHON, "-m", "broker.provision", "apply", "--vhost", test_broker.vhost],
            cwd=REPO_ROOT,
            env={**os.environ, **node.broker_env()},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield node
    finally:
        node.destroy()


def test_after_a_broker_restart_the_stream_catches_up_by_itself(
    restartable_broker: PrivateRabbit, orders_env: dict[str, str], tmp_path: Path
) -> None:
    node = restartable_broker
    api, url = start_api({**orders_env, **node.broker_env()}, tmp_path)
    db = Database(orders_env["ORDERS_DATABASE_URL"])
    try:
        wait_until(lambda: httpx.get(f"{url}/ready").status_code == 200, timeout=30)
        order = place(url)
        stream = SseStream(f"{url}/orders/{order.id}/events")
        [accepted] = stream.steps(1)

        node.stop_app()  # every connection drops; the bridge's queue is gone
        wait_until(lambda: httpx.get(f"{url}/ready").status_code == 503, timeout=30)
        reject_order(stock_rejected(order), db)  # committed while nobody can hear of it
        assert stream.quiet_for(1)
        node.start_app()

        rejected = stream.steps(2, timeout=60)  # the bridge subscribed again: every stream reads
        assert [e.json()["status"] for e in rejected] == ["REJECTED", "REJECTED"]
        assert int(rejected[0].id or 0) > int(accepted.id or 0)
        assert httpx.get(f"{url}/ready").status_code == 200
        assert "broker unreachable" in api.log()
        stream.close()
    finally:
        db.dispose()
        api.stop()
