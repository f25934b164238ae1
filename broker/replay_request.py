"""What `python -m broker.replay` is asked to do, checked before anything connects.

A service's events come from the event logs of the exchanges it subscribes to, and go to the
event queue that subscription feeds: everything here is read off the routing tables, so a
service added to them can be replayed to without a line changed here. A request that cannot be
met raises `BadRequest`, whose message is the one line the tool prints (exit status 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common import topology as t

# The log is entered this long before `--since`, and every event is then filtered by its own
# `time`: a log is entered at the start of a chunk, and a producer's clock may run ahead of the
# broker's (an event stored at broker time T may say T + skew).
CLOCK_MARGIN = timedelta(minutes=5)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class BadRequest(ValueError):
    """The request cannot be met as asked; nothing was (or will be) published."""


@dataclass(frozen=True)
class Source:
    """One event log to read, and where each event type read from it goes."""

    stream: str
    exchange: str
    routes: tuple[tuple[str, str], ...]  # (event type, event queue), in the table's order

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for kind, _ in self.routes))

    def queues_for(self, event_type: str) -> tuple[str, ...]:
        return tuple(queue for kind, queue in self.routes if kind == event_type)


@dataclass(frozen=True)
class Window:
    """Which part of the logs: offsets (one log) or event times; both ends are optional at the
    end. Offsets are inclusive at both ends; times include `since` and exclude `until`."""

    since_offset: int | None = None
    until_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def start(self) -> int | datetime:
        """Where to enter the log (`x-stream-offset`)."""
        if self.since_offset is not None:
            return self.since_offset
        assert self.since is not None
        return self.since - CLOCK_MARGIN

    def admits(self, offset: int, moment: datetime) -> bool:
        if self.since_offset is not None and offset < self.since_offset:
            return False
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until

    def past(self, offset: int) -> bool:
        """Whether `offset` is after the range, so the rest of the log can be left unread."""
        return self.until_offset is not None and offset > self.until_offset


def consumers() -> tuple[t.Service, ...]:
    """The services that consume events: the ones a replay can be for."""
    return tuple(t.EVENT_SUBSCRIPTIONS)


def topic_matches(binding_key: str, routing_key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` any number of words (none included)."""

    def match(pattern: list[str], words: list[str]) -> bool:
        if not pattern:
            return not words
        head, rest = pattern[0], pattern[1:]
        if head == "#":
            return any(match(rest, words[i:]) for i in range(len(words) + 1))
        return bool(words) and head in ("*", words[0]) and match(rest, words[1:])

    return match(binding_key.split("."), routing_key.split("."))


def sources_for(service_name: str, wanted: list[str]) -> tuple[t.Service, tuple[Source, ...]]:
    """The logs to read for `service_name`, narrowed to the event types `wanted` (none: every
    type the service consumes)."""
    service = next((s for s in consumers() if s.value == service_name), None)
    if service is None:
        names = ", ".join(sorted(s.value for s in consumers()))
        raise BadRequest(
            f"unknown service {service_name!r}: the services that consume events are {names}"
        )
    sources = []
    for queue, exchange, keys in t.EVENT_SUBSCRIPTIONS[service]:
        routes = tuple(
            (kind, queue)
            for kind in t.EVENT_EXCHANGES[exchange]
            if any(topic_matches(key, kind) for key in keys)
        )
        sources.append(Source(t.event_log(exchange), exchange, routes))
    consumed = sorted({kind for s in sources for kind in s.types})
    unknown = [kind for kind in wanted if kind not in consumed]
    if unknown:
        raise BadRequest(
            f"{service} does not consume {', '.join(unknown)} (it consumes {', '.join(consumed)})"
        )
    if wanted:
        sources = [
            Source(s.stream, s.exchange, tuple(r for r in s.routes if r[0] in wanted))
            for s in sources
        ]
    return service, tuple(s for s in sources if s.routes)


def parse_moment(text: str, now: datetime) -> datetime:
    """An ISO 8601 time with its zone (`2026-05-01T08:00:00+02:00`, `...Z`), or a duration
    before `now` (`90s`, `15m`, `2h`, `3d`)."""
    duration = _DURATION.fullmatch(text.strip())
    if duration:
        amount, unit = duration.groups()
        return now - timedelta(**{_UNITS[unit]: float(amount)})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"{text!r} is neither an ISO 8601 time (2026-05-01T08:00:00+00:00) nor a duration "
            "(90s, 15m, 2h, 3d)"
        ) from None
    if moment.tzinfo is None:
        raise BadRequest(f"{text!r} has no zone: add one (+00:00, Z, +02:00...)")
    return moment


def window(
    *,
    since_offset: int | None,
    until_offset: int | None,
    since: str | None,
    until: str | None,
    now: datetime,
    sources: tuple[Source, ...],
) -> Window:
    """The range asked for, checked against itself, the clock and the logs it would read."""
    if since_offset is not None:
        if since is not None or until is not None:
            raise BadRequest("give the range as offsets or as times, not both")
        if since_offset < 0:
            raise BadRequest(f"--since-offset {since_offset}: an offset is 0 or more")
        if until_offset is not None and until_offset < since_offset:
            raise BadRequest(f"--until-offset {until_offset} is before --since-offset")
        streams = sorted({s.stream for s in sources})
        if len(streams) > 1:
            raise BadRequest(
                f"offsets are per event log, and these events come from {', '.join(streams)}: "
                "choose the types of one with --type, or give a time with --since"
            )
        return Window(since_offset=since_offset, until_offset=until_offset)
    if until_offset is not None:
        raise BadRequest("--until-offset needs --since-offset")
    if since is None:
        raise BadRequest("say where the range starts: --since-offset N or --since TIME")
    start = parse_moment(since, now)
    if start > now:
        raise BadRequest(f"--since {since} is in the future (now is {now.isoformat()})")
    end = None if until is None else parse_moment(until, now)
    if end is not None and end <= start:
        raise BadRequest(f"--until {until} is not after --since {since}")
    return Window(since=start, until=end)
