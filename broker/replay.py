"""Replay a range of the event log into one service's event queues (docs/event-log.md).

    python -m broker.replay --service inventory --since 2h --dry-run
    python -m broker.replay --service inventory --since-offset 120 --until-offset 180
    python -m broker.replay --service email --since 2026-05-01T08:00:00+00:00 --type order.placed
    python -m broker.replay --service SERVICE --since 30d --first-time   # a service just added

Every event exchange has an event log, the stream `<exchange>.log`, which the broker fills with
every event published there. A replay reads the logs of the exchanges SERVICE subscribes to, from
an offset (`--since-offset`, one log) or a time (`--since`: ISO 8601 with its zone, or a duration
back from now: 90s, 15m, 2h, 3d) up to `--until-offset`/`--until` or to the end the replay marks
in the log as it starts; keeps the event types SERVICE consumes (`--type` narrows them); and
publishes each event, body and properties unchanged, to the event queue its subscription feeds,
through the `replay` exchange, so that no other service gets it.

The whole range is read and checked before anything is published. Refused, in one line with exit
status 2 and nothing published: an unknown service, a type it does not consume, an offset past
the end of the log, a time in the future, and events older than the service's inbox retention
(RETENTION_INBOX_DAYS, as the service reads it): it may have forgotten handling those, so a
repeat would no longer be a no-op. `--first-time` says the service never consumed these events
(a service catching up on what was published before it existed) and skips that check.
`--dry-run` lists what would be sent and sends nothing.

Runs as `<vhost>-replay` (BROKER_REPLAY_PASSWORD), which may read the logs and publish to the
replay and marker exchanges, and nothing else.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn, Protocol

import pika
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from pika.exceptions import AMQPConnectionError, AMQPError, NackError, UnroutableError
from pydantic import ValidationError

from broker.repeats import InboxRetention
from broker.replay_log import OFFSET_HEADER, AmqpEventLog, EventLog, LogStalled
from broker.replay_range import entries, mark_end
from broker.replay_request import BadRequest, Source, Window, sources_for, window
from broker.replay_spool import Spool
from broker.settings import ReplayLogin
from services.common import topology as t
from services.common.cli import run_cli
from services.common.outbox.pika_publisher import connection_parameters, describe

Out = Callable[[str], None]


class Unavailable(RuntimeError):
    """The broker cannot be reached as the replay login."""


class Publisher(Protocol):
    """A channel in confirm mode: `basic_publish` returns once the broker confirmed."""

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties | None = None,
        mandatory: bool = False,
    ) -> None: ...


@dataclass(frozen=True)
class Order:
    """What to replay, checked, and how."""

    service: str
    sources: tuple[Source, ...]
    window: Window
    dry_run: bool = False
    first_time: bool = False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit status 2: what the tool says of every request it cannot meet."""
        self.exit(2, f"error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m broker.replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--service", required=True, help="the service to replay events to")
    start = parser.add_mutually_exclusive_group(required=True)
    start.add_argument("--since-offset", type=int, metavar="N", help="from this offset of a log")
    start.add_argument("--since", metavar="TIME", help="from this time (ISO 8601) or 2h ago")
    parser.add_argument("--until-offset", type=int, metavar="N", help="up to this offset")
    parser.add_argument("--until", metavar="TIME", help="up to (not including) this time")
    parser.add_argument(
        "--type", action="append", dest="types", metavar="TYPE", help="only this event type"
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be sent")
    parser.add_argument(
        "--first-time",
        action="store_true",
        help="the service never consumed these events: skip the inbox-retention check",
    )
    return parser


def main(argv: list[str] | None = None, now: datetime | None = None) -> int:
    args = _parser().parse_args(argv)
    now = now or datetime.now(UTC)
    try:
        _, sources = sources_for(args.service, args.types or [])
        order = Order(
            args.service,
            sources,
            window(
                since_offset=args.since_offset,
                until_offset=args.until_offset,
                since=args.since,
                until=args.until,
                now=now,
                sources=sources,
            ),
            dry_run=args.dry_run,
            first_time=args.first_time,
        )
        settings = ReplayLogin()
        retention = InboxRetention(t.build(settings.broker.vhost), now=lambda: now)
        with _connected(settings) as (connection, publisher):
            return replay(order, AmqpEventLog(connection, publisher), publisher, retention, print)
    except BadRequest as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings: BROKER_REPLAY_PASSWORD missing, say
        for err in exc.errors(include_url=False):
            loc = [str(part) for part in err["loc"] if part != "broker"]
            name = "BROKER_" + "_".join(loc).upper()
            print(f"error: setting {name}: {err['msg']}; see .env.example", file=sys.stderr)
        return 1
    except (Unavailable, LogStalled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AMQPError as exc:
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 1


def replay(
    order: Order, log: EventLog, publisher: Publisher, retention: InboxRetention, out: Out
) -> int:
    """Mark each log's end, read every range into a spool and check it, then list or send it.
    Raises BadRequest, having published nothing, for a range it must not send."""
    tallies = [mark_end(log, source, order.window) for source in order.sources]
    with Spool() as spool:
        too_old: Counter[str] = Counter()
        for source, tally in zip(order.sources, tallies, strict=True):
            for entry in entries(log, source, order.window, tally):
                if not order.first_time and retention.forgotten(entry.queue, entry.time):
                    too_old[entry.queue] += 1
                spool.add(entry)
        if too_old:
            raise BadRequest(_too_old(too_old, spool.count, retention, order.service))
        for tally in tallies:
            out(tally.describe(order.window))
        if order.dry_run:
            for e in spool:
                when = e.time.isoformat()
                out(f"{e.stream}@{e.offset}  {when}  {e.type}  {e.event_id}  -> {e.queue}")
            out(f"dry run: would replay {_counts(spool)}; nothing sent")
            return 0
        return _send(publisher, spool, out)


def _send(publisher: Publisher, spool: Spool, out: Out) -> int:
    for sent, entry in enumerate(spool):
        properties = entry.properties
        headers = {k: v for k, v in (properties.headers or {}).items() if k != OFFSET_HEADER}
        properties.headers = headers or None
        properties.delivery_mode = 2
        try:  # confirmed: the channel is in confirm mode, so each publish waits for the broker
            publisher.basic_publish(
                t.REPLAY_EXCHANGE, entry.queue, entry.body, properties, mandatory=True
            )
        except (UnroutableError, NackError) as exc:
            out(
                f"error: the broker did not take {entry.type} {entry.event_id} for {entry.queue} "
                f"({type(exc).__name__}); {sent} of {spool.count} sent, the rest not: a second "
                "run of the same range is harmless to what was sent"
            )
            return 1
    out(f"replayed {_counts(spool)}")
    return 0


def _counts(spool: Spool) -> str:
    """`3 event(s) into inventory.orders (order.placed 2, order.expired 1)`, per queue."""
    per_queue: dict[str, Counter[str]] = {}
    for entry in spool:
        per_queue.setdefault(entry.queue, Counter())[entry.type] += 1
    if not per_queue:
        return "0 events"
    return "; ".join(
        f"{sum(types.values())} event(s) into {queue} ("
        + ", ".join(f"{kind} {n}" for kind, n in types.most_common())
        + ")"
        for queue, types in per_queue.items()
    )


def _too_old(too_old: Counter[str], total: int, retention: InboxRetention, service: str) -> str:
    queues = ", ".join(f"{n} for {q}" for q, n in too_old.items())
    first = next(iter(too_old))
    return (
        f"{sum(too_old.values())} of the {total} events to replay ({queues}) are older than "
        f"{retention.describe(first)}: {service} may have forgotten handling them, so a repeat "
        f"would be handled again; nothing published (--first-time if {service} never consumed "
        "them)"
    )


@contextmanager
def _connected(settings: ReplayLogin) -> Iterator[tuple[BlockingConnection, BlockingChannel]]:
    """A connection as `<vhost>-replay`, and a channel in confirm mode to publish on."""
    broker = settings.broker
    login = t.user_name(broker.vhost, t.REPLAY)
    urls = broker.amqp_urls(login, settings.replay_password)
    try:
        connection = pika.BlockingConnection(connection_parameters(urls))
    except AMQPConnectionError as exc:
        raise Unavailable(
            f"RabbitMQ at {broker.host}:{broker.port} does not let {login} in ({describe(exc)}): "
            "is it running, has `make provision` made the login, is BROKER_REPLAY_PASSWORD right?"
        ) from exc
    try:
        publisher = connection.channel()
        publisher.confirm_delivery()
        yield connection, publisher
    finally:
        if connection.is_open:
            connection.close()


if __name__ == "__main__":
    run_cli(main)
