"""The dead-letter CLI against the real broker: show reasons, replay to the origin queue only,
refuse to loop forever, purge only when asked."""

from __future__ import annotations

import json

import pika
import pytest

from broker.dead_letters import REPLAY_HEADER
from broker.dead_letters import main as dead_letters
from services.common import topology as t
from tests.support.broker import TestBroker

QUEUE = t.INVENTORY_EVENTS_QUEUE
DLQ = f"{QUEUE}.dlq"


def _kill_one(broker: TestBroker, body: bytes) -> None:
    """Put `body` on the inventory queue and reject it there as the inventory service would."""
    with broker.channel() as ch:
        ch.confirm_delivery()
        ch.basic_publish("", QUEUE, body, pika.BasicProperties(message_id="m-1", delivery_mode=2))
    with broker.channel(t.user_name(broker.vhost, t.Service.INVENTORY)) as ch:
        method, _, got = ch.basic_get(QUEUE)
        assert got == body
        ch.basic_reject(method.delivery_tag, requeue=False)


def test_show_replay_and_loop_guard(broker: TestBroker, capsys: pytest.CaptureFixture[str]) -> None:
    _kill_one(broker, b"poison")

    assert dead_letters(["show", QUEUE, "--json"]) == 0
    [letter] = json.loads(capsys.readouterr().out)
    assert letter["reason"] == "rejected"
    assert letter["queue"] == QUEUE
    assert letter["body"] == "poison"
    assert broker.ready(DLQ) == 1  # show does not consume

    assert dead_letters(["replay", DLQ]) == 0
    assert "replayed 1" in capsys.readouterr().out
    [(props, body)] = broker.drain(QUEUE)
    assert body == b"poison"
    assert props.headers[REPLAY_HEADER] == 1
    # only the origin queue got it, not every queue bound to the event exchange
    assert broker.ready(t.EMAIL_EVENTS_QUEUE) == 0
    assert broker.ready(DLQ) == 0

    # It dies again; with --max-replays 1 it is not replayed a second time.
    with broker.channel() as ch:
        ch.confirm_delivery()
        ch.basic_publish("", QUEUE, body, props)
    with broker.channel(t.user_name(broker.vhost, t.Service.INVENTORY)) as ch:
        method, _, _ = ch.basic_get(QUEUE)
        ch.basic_reject(method.delivery_tag, requeue=False)
    assert dead_letters(["replay", DLQ, "--max-replays", "1"]) == 0
    assert "replayed 0; kept 1" in capsys.readouterr().out
    assert broker.ready(DLQ) == 1


def test_purge_needs_yes(broker: TestBroker) -> None:
    _kill_one(broker, b"junk")
    assert dead_letters(["purge", QUEUE]) == 2
    assert broker.ready(DLQ) == 1
    assert dead_letters(["purge", QUEUE, "--yes"]) == 0
    assert broker.ready(DLQ) == 0


def test_unknown_queue_is_refused() -> None:
    with pytest.raises(SystemExit, match="not a dead-letter queue"):
        dead_letters(["show", "no.such.queue"])


def test_list(broker: TestBroker, capsys: pytest.CaptureFixture[str]) -> None:
    _kill_one(broker, b"x")
    assert dead_letters(["list"]) == 0
    lines = {line.split()[1]: int(line.split()[0]) for line in capsys.readouterr().out.splitlines()}
    assert lines[DLQ] == 1
    assert set(lines) == set(broker.topology.dead_letter_queues)
