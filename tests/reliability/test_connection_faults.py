"""Scenarios 5 and 9: the broker cuts a consumer off (connection closed; consumer timeout)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from services.common.topology import WORKER_SERVICES, Service, user_name
from tests.reliability.harness import FaultRun
from tests.support.private_rabbit import PrivateRabbit

pytestmark = pytest.mark.reliability


def test_connections_closed_by_the_broker_mid_task(
    fault_run: Callable[..., FaultRun], private_rabbit: PrivateRabbit
) -> None:
    """Every connection of one service (its worker's consumer and producer, its relay) is closed
    from the broker side, service by service, while messages are in flight."""
    with fault_run(
        "5. connections closed by the broker", fault="rabbitmqctl close_connection"
    ) as run:
        run.start_traffic()
        for n, service in enumerate(WORKER_SERVICES):
            run.at(0.2 + 0.2 * n)
            closed = private_rabbit.close_connections(user_name(run.broker.vhost, service))
            assert closed >= 1, f"{service} had no connection to close"
            if service == Service.EMAIL:
                run.note_mails_in_flight()
        run.cleared()
        run.finish()


@pytest.fixture
def short_consumer_timeout(private_rabbit: PrivateRabbit) -> Iterator[int]:
    private_rabbit.set_consumer_timeout(3000)
    try:
        yield 3000
    finally:
        private_rabbit.set_consumer_timeout(30 * 60 * 1000)  # RabbitMQ's default


def test_handler_stalls_past_the_consumer_timeout(
    fault_run: Callable[..., FaultRun], short_consumer_timeout: int
) -> None:
    """The SMTP server stalls the first mails for twice the broker's consumer timeout. The broker
    closes the email worker's channel and redelivers; the stalled sends complete meanwhile and
    the redelivered tasks find them sent (or wait for the claim): no mail twice."""
    stall = 2 * short_consumer_timeout / 1000
    with fault_run(
        "9. consumer timeout (handler stalls)",
        fault=f"SMTP stalls {stall:.0f}s > consumer_timeout {short_consumer_timeout} ms",
        extra_env={"EMAIL_SINK_STALL_SECONDS": str(stall), "EMAIL_SINK_STALL_LIMIT": "4"},
    ) as run:
        run.start_traffic()
        run.system.procs["email-worker"].wait_for_log(
            r"PRECONDITION_FAILED|consumer ack timed out|timed out", timeout=60
        )
        run.cleared()
        run.finish()
