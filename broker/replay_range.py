"""Which messages of an event log a replay sends, and where: the range between its start and the
marker that ends it, narrowed to the service's event types and, for a time range, to the events'
own `time`.

Only events are sent: a body that is not an event envelope (with an `id`, a `type` and a `time`
with its zone) is counted and left, since the consumer's ingress would only dead-letter it
again; markers are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pika

from broker.replay_log import EventLog
from broker.replay_request import BadRequest, Source, Window


@dataclass(frozen=True)
class Entry:
    """One event to send to one queue."""

    stream: str
    offset: int
    type: str
    event_id: str
    time: datetime
    queue: str
    properties: pika.BasicProperties
    body: bytes


@dataclass
class Tally:
    """What reading one log's range found."""

    stream: str
    end: int  # the offset of this replay's marker: the range ends before it
    first: int | None = None  # the first offset read at or after the start
    selected: int = 0  # entries: an event sent to two queues counts twice
    other_types: int = 0
    outside: int = 0  # read, but outside the time range
    not_events: int = 0
    markers: int = 0  # other replays' markers

    def describe(self, window: Window) -> str:
        """One line: what was read and what was left, and why."""
        skipped = [
            f"{n} {what}"
            for n, what in (
                (self.other_types, "of other types"),
                (self.outside, "outside the time range"),
                (self.not_events, "not events"),
                (self.markers, "replay markers"),
            )
            if n
        ]
        where = "nothing" if self.first is None else f"offsets {self.first}-{self.end - 1}"
        line = f"{self.stream}: read {where}; skipped {', '.join(skipped) or 'nothing'}"
        start = window.since_offset
        if start is not None and self.first is not None and self.first > start:
            line += (
                f"; it begins at offset {self.first}: {start}-{self.first - 1} are past the "
                "log's retention"
            )
        return line


def mark_end(log: EventLog, source: Source, window: Window) -> Tally:
    """Fix where the range ends, and refuse a start past it."""
    end = log.mark_end(source.stream)
    start = window.since_offset
    if start is not None and start >= end:
        held = "holds nothing yet" if end == 0 else f"ends at offset {end - 1}"
        raise BadRequest(f"--since-offset {start} is past the end of {source.stream}, which {held}")
    return Tally(source.stream, end)


def entries(log: EventLog, source: Source, window: Window, tally: Tally) -> Iterator[Entry]:
    """The entries of the range whose end `tally` holds, counting what it leaves in `tally`."""
    for d in log.read(source.stream, window.start):
        if d.offset >= tally.end or window.past(d.offset):
            return
        if window.since_offset is not None and d.offset < window.since_offset:
            continue  # the log was entered at the start of the chunk holding the offset
        if tally.first is None:
            tally.first = d.offset
        if d.is_marker:
            tally.markers += 1
            continue
        head = event_head(d.body)
        if head is None:
            tally.not_events += 1
            continue
        event_id, moment = head
        queues = source.queues_for(d.routing_key)
        if not queues:
            tally.other_types += 1
            continue
        if not window.admits(d.offset, moment):
            tally.outside += 1
            continue
        for queue in queues:
            tally.selected += 1
            yield Entry(
                source.stream,
                d.offset,
                d.routing_key,
                event_id,
                moment,
                queue,
                d.properties,
                d.body,
            )


def event_head(body: bytes) -> tuple[str, datetime] | None:
    """The event's id and time, if `body` is an event envelope."""
    try:
        found: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    event_id, kind, text = found.get("id"), found.get("type"), found.get("time")
    if not (isinstance(event_id, str) and event_id and isinstance(kind, str)):
        return None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (event_id, moment) if moment.tzinfo is not None else None
