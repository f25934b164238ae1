"""A small HTTP/1.1 load generator, run as its own process: `python -m bench.loadgen`.

asyncio streams over keep-alive connections, the request bytes built once, only the status line
and Content-Length parsed: so it costs a fraction of what the server under test spends per
request. Two modes:

- closed loop (`--rate 0`): `--connections` clients each send the next request as soon as the
  answer arrives: the server's saturation throughput;
- open loop (`--rate R`): requests start on a fixed schedule, R per second, whatever the answers
  do; a request's latency is counted from its scheduled start, so a stalled server is not hidden
  (no coordinated omission).

Prints one JSON object: requests, errors, seconds, rps, p50_ms, p99_ms. `--record FILE` also
writes [epoch time the answer arrived, status, "id" of the JSON answer] per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.stats import percentile


class Client:
    def __init__(self, host: str, port: int, request: bytes, want_id: bool) -> None:
        self.host, self.port, self.request, self.want_id = host, port, request, want_id
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self) -> tuple[int, str]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        if head.lower().find(b"connection: close") != -1:
            self.writer.close()
            self.reader = self.writer = None
        order_id = ""
        if self.want_id and status < 300:
            order_id = str(json.loads(body).get("id", ""))
        return status, order_id


def build_request(url: str, body: bytes) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return host, port, head.encode() + body


# Sends one request scheduled at the given perf_counter time, and counts its answer.
_Send = Callable[[float], Coroutine[Any, Any, None]]


@dataclass
class _Tally:
    """What the requests answered inside the measured window, [start, end), did."""

    start: float  # perf_counter: the end of the warm-up
    end: float
    record: bool
    latencies: list[float] = field(default_factory=list)
    records: list[tuple[float, int, str]] = field(default_factory=list)
    errors: int = 0

    def count(self, scheduled: float, done: float, status: int, order_id: str) -> None:
        if scheduled < self.start:
            return  # warm-up
        if status // 100 != 2:
            self.errors += 1
        self.latencies.append(done - scheduled)
        if self.record:
            self.records.append((time.time(), status, order_id))

    def summary(self) -> dict[str, object]:
        seconds = max(time.perf_counter(), self.end) - self.start
        return {
            "records": self.records,
            "requests": len(self.latencies),
            "errors": self.errors,
            "seconds": seconds,
            "rps": len(self.latencies) / seconds,
            "p50_ms": percentile(self.latencies, 50) * 1000,
            "p99_ms": percentile(self.latencies, 99) * 1000,
        }


async def run(args: argparse.Namespace) -> dict[str, object]:
    host, port, request = build_request(args.url, args.body.encode())
    clients: asyncio.Queue[Client] = asyncio.Queue()
    for _ in range(args.connections):
        clients.put_nowait(Client(host, port, request, bool(args.record)))
    start = time.perf_counter() + args.warmup
    tally = _Tally(start, start + args.duration, bool(args.record))

    async def one(scheduled: float) -> None:
        status, order_id = await _call(clients)
        tally.count(scheduled, time.perf_counter(), status, order_id)

    if args.rate > 0:
        await _open_loop(one, args.rate, tally.end)
    else:
        await _closed_loop(one, args.connections, tally.end)
    return tally.summary()


async def _call(clients: asyncio.Queue[Client]) -> tuple[int, str]:
    """One request on a free keep-alive connection; status 0 when the connection failed."""
    client = await clients.get()
    try:
        return await client.call()
    except (OSError, asyncio.IncompleteReadError, ValueError):
        client.reader = client.writer = None
        return 0, ""
    finally:
        clients.put_nowait(client)


async def _open_loop(one: _Send, rate: float, end: float) -> None:
    """Start a request every 1/rate s until `end`, whether or not earlier ones have answered."""
    interval = 1.0 / rate
    tasks = []
    i = 0
    first = time.perf_counter()
    while (due := first + i * interval) < end:
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
        i += 1
    await asyncio.gather(*tasks)


async def _closed_loop(one: _Send, connections: int, end: float) -> None:
    """`connections` clients, each sending its next request as soon as the answer arrives."""

    async def loop() -> None:
        while time.perf_counter() < end:
            await one(time.perf_counter())

    await asyncio.gather(*(loop() for _ in range(connections)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0: closed loop")
    parser.add_argument("--record", default="")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(run(args))
    records = result.pop("records")
    if args.record:
        with open(args.record, "w") as fh:
            json.dump(records, fh)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
