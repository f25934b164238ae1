"""`python -m broker.replay` against the real broker, as the replay login: a range of an event
log, by offset or by time, narrowed by type, goes to one service's event queue and no other;
every refusal is one line, exit status 2, and nothing published; a dry run publishes nothing.

The session's logs hold what every test of the process published, so each test starts its range
where the log ends (`end_of`), or at a time of its own in the past."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from broker.replay import main as replay
from services.common import topology as t
from services.common.events import Envelope
from tests.support.broker import TestBroker
from tests.support.event_log import end_of, logged
from tests.support.factories import order_confirmed_event, order_placed

ORDERS_LOG = t.event_log(t.ORDERS_EXCHANGE)
EVENT_QUEUES = [q for subs in t.EVENT_SUBSCRIPTIONS.values() for q, _, _ in subs]


def placed(days_ago: float = 0) -> Envelope[Any]:
    return Envelope.wrap(order_placed(), time=datetime.now(UTC) - timedelta(days=days_ago))


def publish(broker: TestBroker, *events: Envelope[Any]) -> None:
    """As the relay publishes: to the exchange, so to the subscribers and the log; then the
    subscribers' copies are taken away, as their workers would have done."""
    for event in events:
        broker.publish_event(event)
    for queue in EVENT_QUEUES:
        broker.drain(queue)


def received(broker: TestBroker) -> dict[str, list[str]]:
    """The message ids now in each event queue (taken)."""
    return {q: [p.message_id for p, _ in broker.drain(q)] for q in EVENT_QUEUES}


def nothing(but: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    return {q: (but or {}).get(q, []) for q in EVENT_QUEUES}


def test_a_range_by_offset_goes_to_the_services_queue_and_no_other(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    start = end_of(broker, ORDERS_LOG)
    events = [placed() for _ in range(3)]
    publish(broker, *events)

    code = replay(["--service", "inventory", "--since-offset", str(start)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert received(broker) == nothing({t.INVENTORY_EVENTS_QUEUE: [e.id for e in events]})
    assert out.splitlines()[-1] == "replayed 3 event(s) into inventory.orders (order.placed 3)"


def test_the_replayed_event_is_the_published_one_without_the_logs_offset(
    broker: TestBroker,
) -> None:
    start = end_of(broker, ORDERS_LOG)
    event = placed()
    publish(broker, event)
    argv = ["--service", "email", "--type", event.type, "--since-offset", str(start)]
    assert replay(argv) == 0
    [(props, body)] = broker.drain(t.EMAIL_EVENTS_QUEUE)
    assert body == event.to_json_bytes()
    assert (props.message_id, props.type, props.content_type, props.delivery_mode) == (
        event.id,
        event.type,
        "application/json",
        2,
    )
    assert props.headers == {"correlation_id": event.correlationid}


def test_an_offset_range_ends_where_asked(broker: TestBroker) -> None:
    start = end_of(broker, ORDERS_LOG)
    events = [placed() for _ in range(4)]
    publish(broker, *events)
    argv = ["--since-offset", str(start), "--until-offset", str(start + 1)]
    assert replay(["--service", "inventory", *argv]) == 0
    assert received(broker) == nothing({t.INVENTORY_EVENTS_QUEUE: [e.id for e in events[:2]]})


def test_a_range_by_time_keeps_the_events_of_that_time(broker: TestBroker) -> None:
    """Events of a time no other test uses (ten days ago), one on each side of the range."""
    before, inside, after = placed(days_ago=10.5), placed(days_ago=10), placed(days_ago=9.5)
    publish(broker, before, inside, after)
    now = datetime.now(UTC)
    since = (now - timedelta(days=10.25)).isoformat()
    until = (now - timedelta(days=9.75)).isoformat()
    assert replay(["--service", "inventory", "--since", since, "--until", until]) == 0
    assert received(broker) == nothing({t.INVENTORY_EVENTS_QUEUE: [inside.id]})


DOCUMENTED_HOUR = (
    ".venv/bin/python -m broker.replay --service inventory --since 2026-05-01T08:00:00+02:00 "
    "--until 2026-05-01T09:00:00+02:00 --dry-run"
)


@pytest.mark.documents(DOCUMENTED_HOUR)
def test_a_documented_time_range_keeps_the_events_of_that_hour(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    """As docs/event-log.md writes it, run on that day at noon (the tool is given that `now`:
    on the real date those events would be older than inventory's inbox retention)."""
    zone = timezone(timedelta(hours=2))

    def at(hour: int, minute: int) -> Envelope[Any]:
        return Envelope.wrap(order_placed(), time=datetime(2026, 5, 1, hour, minute, tzinfo=zone))

    events = [at(7, 59), at(8, 0), at(8, 59), at(9, 0)]
    publish(broker, *events)
    argv = shlex.split(DOCUMENTED_HOUR)[3:]
    assert replay(argv, now=datetime(2026, 5, 1, 12, 0, tzinfo=zone)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[3] for line in lines if line.startswith("orders.log@")] == [
        events[1].id,
        events[2].id,
    ]
    assert lines[-1].startswith("dry run: would replay 2 event(s) into inventory.orders")
    assert received(broker) == nothing()


def test_types_narrow_the_replay(broker: TestBroker) -> None:
    start = end_of(broker, ORDERS_LOG)
    first = placed()
    confirmed = order_confirmed_event()
    publish(broker, first, confirmed)
    argv = ["--service", "email", "--since-offset", str(start), "--type", t.ORDER_CONFIRMED]
    assert replay(argv) == 0
    assert received(broker) == nothing({t.EMAIL_EVENTS_QUEUE: [confirmed.id]})


def test_a_dry_run_lists_the_range_and_publishes_nothing(
    broker: TestBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    start = end_of(broker, ORDERS_LOG)
    event = placed()
    publish(broker, event)
    assert replay(["--service", "inventory", "--since-offset", str(start), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        f"orders.log@{start}  {event.time.isoformat()}  order.placed  {event.id}  "
        "-> inventory.orders",
        "dry run: would replay 1 event(s) into inventory.orders (order.placed 1); nothing sent",
    ]
    assert received(broker) == nothing()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--service", "billing", "--since", "1h"], "unknown service 'billing'"),
        (["--service", "inventory", "--since", "1h", "--type", "order.confirmed"], "does not "),
        (["--service", "inventory", "--since", "2999-01-01T00:00:00Z"], "is in the future"),
        (["--service", "inventory", "--since-offset", "{past}"], "is past the end of orders.log"),
        (["--service", "inventory", "--since-offset", "{start}"], "older than inventory's inbox"),
    ],
)
def test_a_refused_replay_says_why_in_one_line_and_publishes_nothing(
    broker: TestBroker,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    says: str,
) -> None:
    monkeypatch.setenv("INVENTORY_RETENTION_INBOX_DAYS", "1")
    start = end_of(broker, ORDERS_LOG)
    publish(broker, placed(), placed(days_ago=2))  # the second: older than inventory remembers
    past = str(end_of(broker, ORDERS_LOG) + 1)
    argv = [a.format(start=start, past=past) for a in argv]

    assert replay(argv) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("error: ")
    assert says in line
    assert captured.out == ""
    assert received(broker) == nothing()


def test_the_first_time_flag_replays_what_the_inbox_retention_would_refuse(
    broker: TestBroker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A service that never consumed these events has nothing to forget."""
    monkeypatch.setenv("INVENTORY_RETENTION_INBOX_DAYS", "1")
    start = end_of(broker, ORDERS_LOG)
    old = placed(days_ago=2)
    publish(broker, old)
    argv = ["--service", "inventory", "--since-offset", str(start)]
    assert replay(argv) == 2
    assert "--first-time" in capsys.readouterr().err
    assert replay([*argv, "--first-time"]) == 0
    assert received(broker) == nothing({t.INVENTORY_EVENTS_QUEUE: [old.id]})


def test_a_replay_leaves_its_marker_and_every_reader_skips_it(broker: TestBroker) -> None:
    start = end_of(broker, ORDERS_LOG)
    event = placed()
    publish(broker, event)
    for _ in range(2):  # a second replay reads past the first one's marker
        assert replay(["--service", "inventory", "--since-offset", str(start)]) == 0
    assert received(broker) == nothing({t.INVENTORY_EVENTS_QUEUE: [event.id, event.id]})
    assert [d.properties.message_id for d in logged(broker, ORDERS_LOG, since=start)] == [event.id]


def test_the_replay_logs_in_as_its_own_login(
    broker: TestBroker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BROKER_REPLAY_PASSWORD", "not-the-password")
    assert replay(["--service", "inventory", "--since", "1h"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert f"does not let {t.user_name(broker.vhost, t.REPLAY)} in" in line
