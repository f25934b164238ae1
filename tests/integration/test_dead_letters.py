"""The dead-letter CLI against the real broker: show reasons, replay to the origin queue only,
refuse to loop forever, refuse events the consumer may have forgotten, purge only when asked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pika
import pytest

from broker.dead_letters import REPLAY_HEADER
from broker.dead_letters import main as dead_letters
from services.common import topology as t
from services.common.events import Envelope
from tests.support.broker import TestBroker
from tests.support.factories import order_placed
from tests.support.ports import free_port

QUEUE = t.INVENTORY_EVENTS_QUEUE
DLQ = f"{QUEUE}.dlq"
UNROUTABLE = {t.unroutable(exchange) for exchange in t.EVENT_EXCHANGES}


def _kill_one(broker: TestBroker, body: bytes, message_id: str = "m-1") -> None:
    """Put `body` on the inventory queue and reject it there as the inventory service would."""
    with broker.channel() as ch:
        ch.confirm_delivery()
        props = pika.BasicProperties(message_id=message_id, delivery_mode=2)
        ch.basic_publish("", QUEUE, body, props)
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


def test_list_counts_every_dlq_and_every_unroutable_sink(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    _kill_one(broker, b"x")
    broker.publish_raw(b"nobody wants this", exchange=t.ORDERS_EXCHANGE, routing_key="order.lost")
    assert dead_letters(["list"]) == 0
    lines = {line.split()[1]: int(line.split()[0]) for line in capsys.readouterr().out.splitlines()}
    assert lines[DLQ] == 1
    assert lines[t.ORDERS_UNROUTABLE_QUEUE] == 1
    assert set(lines) == {*broker.topology.dead_letter_queues, *UNROUTABLE}


def test_show_says_when_a_queue_is_empty(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dead_letters(["show", t.ORDERS_EVENTS_QUEUE]) == 0
    assert capsys.readouterr().out == f"{t.ORDERS_EVENTS_QUEUE}.dlq is empty\n"


def _shown_ids(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if line.startswith("- ")]


def test_show_gives_the_total_and_the_oldest_or_the_newest_in_place(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [f"m-{n:02d}" for n in range(12)]
    for message_id in ids:
        _kill_one(broker, message_id.encode(), message_id)

    assert dead_letters(["show", QUEUE, "-n", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{DLQ}: 12 message(s); the oldest 3:"
    assert _shown_ids(out) == ids[:3]

    assert dead_letters(["show", QUEUE, "-n", "3", "--newest"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{DLQ}: 12 message(s); the newest 3, oldest first:"
    assert _shown_ids(out) == ids[-3:]

    # looking took nothing away and kept the order
    assert dead_letters(["show", QUEUE, "-n", "100", "--json"]) == 0
    assert [x["message_id"] for x in json.loads(capsys.readouterr().out)] == ids


def test_discard_deletes_only_the_messages_it_is_given(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    for message_id in ("keep-1", "doomed-1", "keep-2", "doomed-2"):
        _kill_one(broker, b"x", message_id)

    assert dead_letters(["discard", DLQ, "--id", "doomed-1"]) == 0
    assert capsys.readouterr().out == f"discarded 1 message(s) from {DLQ}\n"
    assert dead_letters(["discard", "--id-prefix", "doomed-"]) == 0  # every sink
    assert capsys.readouterr().out.splitlines() == [
        f"discarded 1 message(s) from {DLQ}",
        "discarded 1 message(s) in all",
    ]
    assert dead_letters(["show", QUEUE, "--json"]) == 0
    assert [x["message_id"] for x in json.loads(capsys.readouterr().out)] == ["keep-1", "keep-2"]


def test_a_broker_that_does_not_answer_is_one_line_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BROKER_PORT", str(free_port()))  # nothing listens there
    assert dead_letters(["list"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert "does not answer" in line
    assert "broker/ensure-rabbitmq.sh" in line


def _event_from(days: float) -> bytes:
    moment = datetime.now(UTC) - timedelta(days=days)
    return Envelope.wrap(order_placed(), time=moment).to_json_bytes()


def test_replay_refuses_events_older_than_the_consumers_inbox_retention(
    broker: TestBroker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _kill_one(broker, _event_from(days=1), "young")
    _kill_one(broker, _event_from(days=40), "old")  # inventory forgets after 30 days

    assert dead_letters(["replay", DLQ]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"error: 1 of the 2 dead letter(s) to replay in {DLQ} carry events")
    assert "inventory's inbox retention (30 days)" in line
    assert "--accept-repeats" in line
    assert broker.ready(DLQ) == 2  # nothing replayed, nothing lost
    assert broker.ready(QUEUE) == 0

    # The service's own retention is the one that counts.
    monkeypatch.setenv("INVENTORY_RETENTION_INBOX_DAYS", "60")
    assert dead_letters(["replay", DLQ]) == 0
    assert "replayed 2" in capsys.readouterr().out
    assert sorted(props.message_id for props, _ in broker.drain(QUEUE)) == ["old", "young"]


def test_replay_with_accept_repeats_replays_old_events_too(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    _kill_one(broker, _event_from(days=400), "ancient")
    assert dead_letters(["replay", DLQ, "--accept-repeats"]) == 0
    assert "replayed 1" in capsys.readouterr().out
    assert [props.message_id for props, _ in broker.drain(QUEUE)] == ["ancient"]
    assert broker.ready(DLQ) == 0
