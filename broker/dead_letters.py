"""Look at, replay and purge dead letters.

    python -m broker.dead_letters list                 # every DLQ and how many messages it holds
    python -m broker.dead_letters show QUEUE [-n 10]   # messages with their x-death reasons
    python -m broker.dead_letters replay QUEUE [-n N] [--max-replays 3]
    python -m broker.dead_letters purge QUEUE --yes

QUEUE is a dead-letter queue (`inventory.orders.dlq`) or the queue it belongs to
(`inventory.orders`). `replay` moves messages back to the queue they died in, through the
default exchange (so only that queue gets them, never every queue bound to the event exchange),
with a `x-shopflow-replays` header counting replays; a message replayed `--max-replays` times
stays put, so a poison message cannot loop forever. Each message is re-published with publisher
confirms before it is acked in the DLQ: nothing is lost, at worst replayed twice.

Runs as the admin login of the vhost tool (BROKER_ADMIN_USER / BROKER_ADMIN_PASSWORD).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel

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


def dead_letter_queue(name: str, topology: t.Topology) -> str:
    dlqs = set(topology.dead_letter_queues) | {
        q.name for q in topology.queues if q.name.endswith(".unroutable")
    }
    if name in dlqs:
        return name
    if f"{name}.dlq" in dlqs:
        return f"{name}.dlq"
    raise SystemExit(
        f"error: {name!r} is not a dead-letter queue; known: {', '.join(sorted(dlqs))}"
    )


@contextmanager
def admin_channel(settings: ProvisionSettings) -> Iterator[BlockingChannel]:
    params = pika.ConnectionParameters(
        host=settings.broker.host,
        port=settings.broker.port,
        virtual_host=settings.broker.vhost,
        credentials=pika.PlainCredentials(
            settings.admin_user, settings.admin_password.get_secret_value()
        ),
    )
    conn = pika.BlockingConnection(params)
    try:
        yield conn.channel()
    finally:
        if conn.is_open:
            conn.close()


def peek(ch: BlockingChannel, queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` messages, unacked: they return to the queue, in order, when `ch` closes."""
    out: list[DeadLetter] = []
    while len(out) < limit:
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        out.append(DeadLetter(method.delivery_tag, props, body))
    return out


def replay(ch: BlockingChannel, queue: str, limit: int, max_replays: int) -> tuple[int, int]:
    """Returns (replayed, kept back)."""
    ch.confirm_delivery()
    replayed = kept = 0
    for letter in peek(ch, queue, limit):
        target = letter.origin_queue
        if target is None or letter.replays >= max_replays:
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
    sub.add_parser("list")
    show = sub.add_parser("show")
    show.add_argument("queue")
    show.add_argument("-n", type=int, default=10)
    show.add_argument("--json", action="store_true")
    rep = sub.add_parser("replay")
    rep.add_argument("queue")
    rep.add_argument("-n", type=int, default=1000)
    rep.add_argument("--max-replays", type=int, default=3)
    purge = sub.add_parser("purge")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="really delete the messages")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = ProvisionSettings()
    topology = t.build(settings.broker.vhost, settings.broker.queue_type)
    queue = dead_letter_queue(args.queue, topology) if args.command != "list" else ""
    with admin_channel(settings) as ch:
        if args.command == "list":
            return _list_counts(ch, topology)
        if args.command == "show":
            return _show_letters(ch, queue, args.n, args.json)
        if args.command == "replay":
            replayed, kept = replay(ch, queue, args.n, args.max_replays)
            print(f"replayed {replayed}; kept {kept} (no origin, or replayed too often)")
            return 0
        return _purge(ch, queue, args.yes)


def _list_counts(ch: BlockingChannel, topology: t.Topology) -> int:
    for name in sorted(set(topology.dead_letter_queues)):
        count = ch.queue_declare(name, passive=True).method.message_count
        print(f"{count:8d}  {name}")
    return 0


def _show_letters(ch: BlockingChannel, queue: str, limit: int, as_json: bool) -> int:
    letters = [x.summary() for x in peek(ch, queue, limit)]
    if as_json:
        print(json.dumps(letters, indent=2))
        return 0
    for letter in letters:
        print(
            f"- {letter['message_id']} type={letter['type']} reason={letter['reason']} "
            f"from={letter['queue']} keys={letter['routing_keys']} "
            f"at={letter['died_at']} replays={letter['replays']}\n  {letter['body'][:300]}"
        )
    return 0


def _purge(ch: BlockingChannel, queue: str, really: bool) -> int:
    if not really:
        print("purge deletes the messages for good; add --yes")
        return 2
    count = ch.queue_purge(queue).method.message_count
    print(f"purged {count} messages from {queue}")
    return 0


if __name__ == "__main__":
    run_cli(main)
