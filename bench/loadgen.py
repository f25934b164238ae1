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


async def run(args: argparse.Namespace) -> dict[str, object]:
    host, port, request = build_request(args.url, args.body.encode())
    clients: asyncio.Queue[Client] = asyncio.Queue()
    for _ in range(args.connections):
        clients.put_nowait(Client(host, port, request, bool(args.record)))
    latencies: list[float] = []
    records: list[tuple[float, int, str]] = []
    errors = 0
    start = time.perf_counter() + args.warmup
    end = start + args.duration

    async def one(scheduled: float) -> None:
        nonlocal errors
        client = await clients.get()
        try:
            status, order_id = await client.call()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            client.reader = client.writer = None
            status, order_id = 0, ""
        finally:
            clients.put_nowait(client)
        done = time.perf_counter()
        if scheduled < start:
            return
        if status // 100 != 2:
            errors += 1
        latencies.append(done - scheduled)
        if args.record:
            records.append((time.time(), status, order_id))

    if args.rate > 0:
        interval = 1.0 / args.rate
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
    else:

        async def loop() -> None:
            while time.perf_counter() < end:
                await one(time.perf_counter())

        await asyncio.gather(*(loop() for _ in range(args.connections)))
    seconds = max(time.perf_counter(), end) - start
    return {
        "records": records,
        "requests": len(latencies),
        "errors": errors,
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


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
