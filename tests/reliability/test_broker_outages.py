"""Scenarios 1 and 2: the broker goes away in mid-stream and comes back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.reliability.harness import FaultRun
from tests.support.private_rabbit import PrivateRabbit

pytestmark = pytest.mark.reliability


def test_control_run_without_a_fault(fault_run: Callable[..., FaultRun]) -> None:
    """The harness itself: with no fault, the books balance (a broken harness fails here first)."""
    with fault_run("control", fault="none") as run:
        run.start_traffic()
        run.finish()


@pytest.mark.parametrize("how", ["stop_app/start_app", "full node restart"])
def test_broker_restarted_mid_stream(
    fault_run: Callable[..., FaultRun], private_rabbit: PrivateRabbit, how: str
) -> None:
    with fault_run(f"1. RabbitMQ restarted ({how})", fault=f"rabbitmqctl {how}") as run:
        run.start_traffic()
        run.at(0.3)
        if how == "full node restart":
            private_rabbit.stop()
            private_rabbit.start()
        else:
            private_rabbit.stop_app()
            private_rabbit.start_app()
        run.cleared()
        run.finish()


def test_broker_down_while_orders_keep_arriving(
    fault_run: Callable[..., FaultRun], private_rabbit: PrivateRabbit
) -> None:
    with fault_run(
        "2. RabbitMQ down while orders arrive", fault="stop_app for 40% of the stream"
    ) as run:
        run.start_traffic()
        run.at(0.2)
        private_rabbit.stop_app()
        try:
            run.at(0.6)  # the API keeps taking orders: they wait in the orders outbox
        finally:
            private_rabbit.start_app()
        run.cleared()
        run.finish()
