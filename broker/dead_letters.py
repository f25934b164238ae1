"""Look at, replay and remove dead letters.

    python -m broker.dead_letters list                          # every DLQ and unroutable sink
    python -m broker.dead_letters show QUEUE [-n 10] [--newest] # the total, then messages
    python -m broker.dead_letters replay QUEUE [-n N] [--max-replays 3] [--accept-repeats]
    python -m broker.dead_letters discard [QUEUE] --id ID ... | --id-prefix PREFIX
    python -m broker.dead_letters purge QUEUE --yes

QUEUE is a dead-letter queue (`inventory.orders.dlq`), the queue it belongs to
(`inventory.orders`), or an unroutable sink (`orders.unroutable`). `show` prints the oldest
messages first; `--newest` the last ones (what just died), reading through the whole queue to
get there. Nothing `show` reads leaves the queue: it is put back, in place.

`replay` moves messages back to the queue they died in, through the default exchange (so only
that queue gets them, never every queue bound to the event exchange), with a `x-shopflow-replays`
header counting replays; a message replayed `--max-replays` times stays put, so a poison message
cannot loop forever. Each message is re-published with publisher confirms before it is acked in
the DLQ: nothing is lost, at worst replayed twice.

`replay` refuses (exit status 2, nothing replayed) when an event it would replay is older than
the consuming service's inbox retention (`RETENTION_INBOX_DAYS`, as that service reads it): its
record of having handled the event may be deleted, so a repeat would no longer be a no-op.
`--accept-repeats` replays them anyway (docs/operations.md, "Retention").

`discard` deletes only the messages with those message ids (without QUEUE: from every DLQ and
sink) and puts every other one back; `purge` empties a queue.

Runs as the admin login of the vhost tool (BROKER_ADMIN_USER / BROKER_ADMIN_PASSWORD).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

from broker.admin import BrokerUnavailable, admin_channel
from broker.repeats import InboxRetention
from broker.settings import ProvisionSettings
from services.common import topology as t
from services.common.cli import run_cli

REPLAY_HEADER = "x-shopflow-replays"


@dataclass(frozen=True)
class DeadLetter:
    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes

    @property
    def death(self) -> dict[str, Any]:
        deaths = (self.properties.headers or {}).get("x-death") or []
        return dict(deaths[0]) if deaths else {}

    @property
    def origin_queue(self) -> str | None:
        queue = self.death.get("queue")
        return str(queue) if queue else None

    @property
    def replays(self) -> int:
        return int((self.properties.headers or {}).get(REPLAY_HEADER, 0))

    def summary(self) -> dict[str, Any]:
        death = self.death
        return {
            "message_id": self.properties.message_id,
            "type": self.properties.type,
            "content_type": self.properties.content_type,
            "reason": death.get("reason"),
            "queue": death.get("queue"),
            "routing_keys": [str(k) for k in death.get("routing-keys", [])],
            "died_at": str(death.get("time")) if death.get("time") else None,
            "count": death.get("count"),
            "replays": self.replays,
            "body": self.body.decode(errors="replace")[:2000],
        }


def sink_queues(topology: t.Topology) -> list[str]:
    """Every queue where messages wait for a person: the DLQs and the unroutable sinks (the
    queues no service consumes)."""
    return sorted(q.name for q in topology.queues if q.owner is None)


def dead_letter_queue(name: str, topology: t.Topology) -> str:
    sinks = set(sink_queues(topology))
    if name in sinks:
        return name
    if f"{name}.dlq" in sinks:
        return f"{name}.dlq"
    raise SystemExit(
        f"error: {name!r} is not a dead-letter queue; known: {', '.join(sorted(sinks))}"
    )


def depth(ch: BlockingChannel, queue: str) -> int:
    return int(ch.queue_declare(queue, passive=True).method.message_count)


def peek(ch: BlockingChannel, queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` messages, oldest first, unacked: they return to the queue, in place, on
    `put_back` or when `ch` closes."""
    return list(letters(ch, queue, limit))


def letters(ch: BlockingChannel, queue: str, limit: int | None = None) -> Iterator[DeadLetter]:
    """The messages in `queue` now (at most `limit`), oldest first, unacked."""
    limit = depth(ch, queue) if limit is None else limit
    for _ in range(limit):
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            return
        yield DeadLetter(method.delivery_tag, props, body)


def put_back(ch: BlockingChannel) -> None:
    """Return every message this channel holds unacked to its queue, in its place."""
    ch.basic_nack(delivery_tag=0, multiple=True, requeue=True)


def discard(
    ch: BlockingChannel, queue: str, doomed: Callable[[DeadLetter], bool]
) -> list[DeadLetter]:
    """Delete the messages of `queue` that `doomed` picks, and only those; returns them."""
    removed = []
    for letter in letters(ch, queue):
        if doomed(letter):
            ch.basic_ack(letter.delivery_tag)
            removed.append(letter)
    put_back(ch)
    return removed


class TooOld(Exception):
    """Dead letters whose events are older than their consumer's inbox retention."""


def replay(
    ch: BlockingChannel,
    queue: str,
    limit: int,
    max_replays: int,
    too_old: Callable[[DeadLetter], bool] = lambda _letter: False,
) -> tuple[int, int]:
    """Returns (replayed, kept back). Raises TooOld, having replayed nothing, if `too_old` says
    so of a message it would replay."""
    ch.confirm_delivery()
    replayed = kept = 0
    letters = peek(ch, queue, limit)
    due = [x for x in letters if x.origin_queue is not None and x.replays < max_replays]
    stale = [x for x in due if too_old(x)]
    if stale:
        put_back(ch)
        raise TooOld(f"{len(stale)} of the {len(due)} dead letter(s) to replay")
    due_tags = {x.delivery_tag for x in due}
    for letter in letters:
        target = letter.origin_queue
        if letter.delivery_tag not in due_tags or target is None:
            kept += 1
            continue
        headers = dict(letter.properties.headers or {})
        headers[REPLAY_HEADER] = letter.replays + 1
        props = letter.properties
        props.headers = headers
        ch.basic_publish("", target, letter.body, props, mandatory=True)  # confirmed
        ch.basic_ack(letter.delivery_tag)
        replayed += 1
    return replayed, kept


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m broker.dead_letters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every DLQ and unroutable sink, with its count")
    show = sub.add_parser("show", help="the total, then the oldest (or newest) messages")
    show.add_argument("queue")
    show.add_argument("-n", type=int, default=10, help="how many messages (default 10)")
    show.add_argument("--newest", action="store_true", help="the last N instead of the first")
    show.add_argument("--json", action="store_true", help="the messages as a JSON list")
    rep = sub.add_parser("replay", help="back to the queue each message died in")
    rep.add_argument("queue")
    rep.add_argument("-n", type=int, default=1000)
    rep.add_argument("--max-replays", type=int, default=3)
    rep.add_argument(
        "--accept-repeats",
        action="store_true",
        help="replay events older than the consumer's inbox retention too, although a repeat "
        "of one may then be handled twice",
    )
    dis = sub.add_parser("discard", help="delete only the messages with these message ids")
    dis.add_argument("queue", nargs="?", help="default: every DLQ and unroutable sink")
    which = dis.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="MESSAGE_ID")
    which.add_argument("--id-prefix", metavar="PREFIX")
    purge = sub.add_parser("purge", help="delete every message of the queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="really delete the messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = ProvisionSettings()
    topology = t.build(settings.broker.vhost, settings.broker.queue_type)
    queues = sink_queues(topology)
    if getattr(args, "queue", None):
        queues = [dead_letter_queue(args.queue, topology)]
    try:
        with admin_channel(settings) as ch:
            return COMMANDS[args.command](ch, queues, args)
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list_counts(ch: BlockingChannel, queues: list[str], _args: argparse.Namespace) -> int:
    for name in queues:
        print(f"{depth(ch, name):8d}  {name}")
    return 0


def _show(ch: BlockingChannel, queues: list[str], args: argparse.Namespace) -> int:
    [queue] = queues
    total = depth(ch, queue)
    if args.newest:
        shown = list(deque(letters(ch, queue), maxlen=max(args.n, 0)))
    else:
        shown = peek(ch, queue, args.n)
    put_back(ch)
    if args.json:
        print(json.dumps([x.summary() for x in shown], indent=2))
        return 0
    if not total:
        print(f"{queue} is empty")
        return 0
    which = f"the newest {len(shown)}, oldest first" if args.newest else f"the oldest {len(shown)}"
    print(f"{queue}: {total} message(s); {which}:")
    for letter in (x.summary() for x in shown):
        print(
            f"- {letter['message_id']} type={letter['type']} reason={letter['reason']} "
            f"from={letter['queue']} keys={letter['routing_keys']} "
            f"at={letter['died_at']} replays={letter['replays']}\n  {letter['body'][:300]}"
        )
    return 0


def _replay(ch: BlockingChannel, queues: list[str], args: argparse.Namespace) -> int:
    queue = queues[0]
    retention = InboxRetention(t.build(ProvisionSettings().broker.vhost))

    def too_old(letter: DeadLetter) -> bool:
        return not args.accept_repeats and retention.too_old(letter.origin_queue, letter.body)

    try:
        replayed, kept = replay(ch, queue, args.n, args.max_replays, too_old)
    except TooOld as exc:
        print(
            f"error: {exc} in {queue} carry events older than {retention.describe(queue)}: the "
            "consumer may have forgotten handling them, so a repeat would be handled again; "
            "nothing replayed (--accept-repeats replays them anyway)",
            file=sys.stderr,
        )
        return 2
    print(f"replayed {replayed}; kept {kept} (no origin, or replayed too often)")
    return 0


def _discard(ch: BlockingChannel, queues: list[str], args: argparse.Namespace) -> int:
    ids = set(args.ids or ())
    prefix: str | None = args.id_prefix

    def doomed(letter: DeadLetter) -> bool:
        message_id = letter.properties.message_id or ""
        return message_id in ids if prefix is None else message_id.startswith(prefix)

    total = 0
    for queue in queues:
        removed = len(discard(ch, queue, doomed))
        total += removed
        if removed or len(queues) == 1:
            print(f"discarded {removed} message(s) from {queue}")
    if len(queues) > 1:
        print(f"discarded {total} message(s) in all")
    return 0


def _purge(ch: BlockingChannel, queues: list[str], args: argparse.Namespace) -> int:
    if not args.yes:
        print("purge deletes the messages for good; add --yes")
        return 2
    count = ch.queue_purge(queues[0]).method.message_count
    print(f"purged {count} messages from {queues[0]}")
    return 0


COMMANDS: dict[str, Callable[[BlockingChannel, list[str], argparse.Namespace], int]] = {
    "list": _list_counts,
    "show": _show,
    "replay": _replay,
    "discard": _discard,
    "purge": _purge,
}

if __name__ == "__main__":
    run_cli(main)
