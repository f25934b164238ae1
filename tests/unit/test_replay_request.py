"""What `python -m broker.replay` accepts, checked before it connects (broker/replay_request.py):
services and their event types come from the routing tables, times from ISO 8601 or durations,
and every bad request is one line with exit status 2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from broker.replay import main as replay
from broker.replay_request import (
    CLOCK_MARGIN,
    BadRequest,
    Source,
    Window,
    parse_moment,
    sources_for,
    topic_matches,
    window,
)
from services.common import topology as t

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_service_reads_the_logs_of_the_exchanges_it_subscribes_to() -> None:
    service, sources = sources_for("email", [])
    assert service is t.Service.EMAIL
    assert sources == (
        Source(
            "orders.log",
            t.ORDERS_EXCHANGE,
            (
                (t.ORDER_PLACED, t.EMAIL_EVENTS_QUEUE),
                (t.ORDER_CONFIRMED, t.EMAIL_EVENTS_QUEUE),
                (t.ORDER_REJECTED, t.EMAIL_EVENTS_QUEUE),
            ),
        ),
        Source("shipping.log", t.SHIPPING_EXCHANGE, ((t.SHIPMENT_DISPATCHED, "email.shipping"),)),
    )
    _, [orders, _shipping] = sources_for("orders", [])
    assert (orders.stream, orders.types) == ("inventory.log", t.EVENT_EXCHANGES["inventory"])
    assert orders.queues_for(t.STOCK_RESERVED) == (t.ORDERS_EVENTS_QUEUE,)


def test_types_narrow_what_is_read() -> None:
    _, [source] = sources_for("inventory", [t.ORDER_EXPIRED])
    assert source.types == (t.ORDER_EXPIRED,)
    assert source.queues_for(t.ORDER_PLACED) == ()


@pytest.mark.parametrize(
    ("service", "types", "says"),
    [
        ("billing", [], "unknown service 'billing': the services that consume events are "),
        ("inventory", [t.ORDER_CONFIRMED], "inventory does not consume order.confirmed (it "),
        ("email", ["stock.reserved", t.ORDER_PLACED], "email does not consume stock.reserved "),
    ],
)
def test_an_unknown_service_or_a_type_it_does_not_consume_is_refused(
    service: str, types: list[str], says: str
) -> None:
    with pytest.raises(BadRequest, match="^" + says.replace("(", r"\(")):
        sources_for(service, types)


def test_a_service_added_to_the_tables_is_replayed_to_without_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Here email stands in for a new service that subscribes to two exchanges, with wildcards."""
    subscriptions = (
        ("shipping.orders", t.ORDERS_EXCHANGE, ("order.*",)),
        ("shipping.inventory", t.INVENTORY_EXCHANGE, ("stock.#",)),
    )
    monkeypatch.setitem(t.EVENT_SUBSCRIPTIONS, t.Service.EMAIL, subscriptions)
    _, sources = sources_for("email", [])
    assert [(s.stream, set(s.types)) for s in sources] == [
        ("orders.log", set(t.EVENT_EXCHANGES["orders"])),
        ("inventory.log", set(t.EVENT_EXCHANGES["inventory"])),
    ]
    with pytest.raises(BadRequest, match="offsets are per event log"):
        window(since_offset=0, until_offset=None, since=None, until=None, now=NOW, sources=sources)
    _, [one] = sources_for("email", [t.STOCK_RELEASED])
    assert one.queues_for(t.STOCK_RELEASED) == ("shipping.inventory",)


@pytest.mark.parametrize(
    ("key", "routing_key", "matches"),
    [
        ("order.placed", "order.placed", True),
        ("order.*", "order.placed", True),
        ("*.placed", "stock.placed", True),
        ("#", "order.placed", True),
        ("order.#", "order", True),
        ("order.*", "order", False),
        ("order.placed", "order.expired", False),
        ("order.*", "order.placed.late", False),
    ],
)
def test_topic_matching(key: str, routing_key: str, matches: bool) -> None:
    assert topic_matches(key, routing_key) is matches


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("2026-05-01T08:00:00+02:00", datetime(2026, 5, 1, 6, 0, tzinfo=UTC)),
        ("2026-05-01T08:00:00Z", datetime(2026, 5, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_a_time_is_iso_8601_with_its_zone_or_a_duration_back_from_now(
    text: str, moment: datetime
) -> None:
    assert parse_moment(text, NOW) == moment


@pytest.mark.parametrize(
    ("text", "says"),
    [("2026-05-01T08:00:00", "has no zone"), ("yesterday", "neither"), ("2w", "neither")],
)
def test_a_time_without_a_zone_or_unreadable_is_refused(text: str, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        parse_moment(text, NOW)


def _window(**given: object) -> Window:
    _, sources = sources_for("inventory", [])
    asked: dict[str, object] = {"since_offset": None, "until_offset": None, "since": None}
    asked |= {"until": None} | given
    return window(now=NOW, sources=sources, **asked)  # type: ignore[arg-type]


def test_a_time_window_enters_the_log_early_and_keeps_the_events_of_the_range() -> None:
    w = _window(since="2h", until="1h")
    assert w.start == NOW - timedelta(hours=2) - CLOCK_MARGIN
    assert not w.admits(7, NOW - timedelta(hours=2, seconds=1))
    assert w.admits(7, NOW - timedelta(hours=2))
    assert not w.admits(7, NOW - timedelta(hours=1))  # `until` is excluded
    assert not w.past(10**9)


def test_an_offset_window_is_inclusive_at_both_ends() -> None:
    w = _window(since_offset=10, until_offset=20)
    assert w.start == 10
    assert (w.admits(9, NOW), w.admits(10, NOW), w.past(20), w.past(21)) == (
        False,
        True,
        False,
        True,
    )


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"since": "2026-06-01T13:00:00+00:00"}, "is in the future"),
        ({"since": "1h", "until": "2h"}, "is not after --since"),
        ({"since_offset": -1}, "an offset is 0 or more"),
        ({"since_offset": 5, "until_offset": 4}, "is before --since-offset"),
        ({"since": "1h", "until_offset": 4}, "--until-offset needs --since-offset"),
        ({"since_offset": 5, "until": "1h"}, "as offsets or as times, not both"),
        ({}, "say where the range starts"),
    ],
)
def test_a_range_that_cannot_be_is_refused(given: dict[str, object], says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        _window(**given)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--service", "billing", "--since", "1h"], "unknown service 'billing'"),
        (["--service", "email", "--since", "1h", "--type", "order.expired"], "does not consume"),
        (["--service", "email", "--since", "2026-06-02T00:00:00Z"], "is in the future"),
        (["--service", "email"], "one of the arguments --since-offset --since is required"),
        (["--service", "email", "--since-offset", "x"], "invalid int value: 'x'"),
        (["--since", "1h"], "the following arguments are required: --service"),
    ],
)
def test_the_tool_says_what_is_wrong_in_one_line_with_exit_status_2(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before connecting: no broker is needed to refuse these."""
    try:
        code = replay(argv, now=NOW)
    except SystemExit as exc:  # argparse's own refusals
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("error: ")
    assert says in line
