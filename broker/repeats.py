"""Can replaying an event still be a no-op? Only while its consumer remembers the event.

A consumer makes a repeat harmless with its inbox (`processed_events`, the email service's sent
mails), and retention deletes those rows `RETENTION_INBOX_DAYS` after they were written
(docs/operations.md, "Retention"). The row of an event handled at all was written after the
event happened, so while the event is younger than the retention, the row is still there if the
event was handled. `dead_letters replay` and `python -m broker.replay` (the event log) ask this
module before they replay anything.

The retention is read as the consuming service itself reads it (its own
`<SERVICE>_RETENTION_INBOX_DAYS`, then `RETENTION_INBOX_DAYS`, then the default), through its
Settings class (`services/<service>/settings.py`, found by the service's name, so a service
added later needs nothing here), without needing the rest of its settings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from services.common.settings import RetentionSettings, settings_class
from services.common.topology import Service, Topology


def inbox_days(service: Service) -> float:
    """`service`'s inbox retention in days (0: kept for ever)."""
    return settings_class(service).knob_group("retention", RetentionSettings).inbox_days


def event_time(body: bytes) -> datetime | None:
    """When the event in a dead letter happened: the envelope's `time`, whether the body is the
    envelope (an event queue's dead letter) or a Celery task carrying it as its argument (a task
    queue's). None for a body that is neither: no consumer can handle it, so a repeat changes
    nothing."""
    try:
        found = json.loads(body)
    except ValueError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], list) and found[0]:
        found = found[0][0]  # Celery's message body: [args, kwargs, embed]; args = [envelope]
    text = found.get("time") if isinstance(found, dict) else None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class InboxRetention:
    """The inbox retention of whichever service consumes a queue, against the events' age."""

    def __init__(
        self, topology: Topology, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._owners = {q.name: q.owner for q in topology.queues}
        self._now = now
        self._days: dict[Service, float] = {}

    def days(self, service: Service) -> float:
        """`service`'s inbox retention in days (0: kept for ever), read once."""
        if service not in self._days:
            self._days[service] = inbox_days(service)
        return self._days[service]

    def too_old(self, origin_queue: str | None, body: bytes) -> bool:
        """Is this dead letter's event older than its consumer's inbox retention?"""
        moment = event_time(body)
        return moment is not None and self.forgotten(origin_queue, moment)

    def forgotten(self, queue: str | None, moment: datetime) -> bool:
        """Is an event of `moment` older than the inbox retention of `queue`'s consumer?"""
        owner = self._owners.get(queue or "")
        if owner is None:
            return False
        days = self.days(owner)
        return days > 0 and self._now() - moment > timedelta(days=days)

    def describe(self, dead_letter_queue: str) -> str:
        """`inventory's inbox retention (30 days)`, for the queue a DLQ belongs to."""
        owner = self._owners.get(dead_letter_queue.removesuffix(".dlq"))
        if owner is None:
            return "the consumer's inbox retention"
        return f"{owner.value}'s inbox retention ({self.days(owner):g} days)"
