"""The events a replay will send, kept in a temporary file until the whole range is read.

Nothing is published before every event of the range was read and checked (the inbox retention
among others), so the range is held somewhere in between; a file keeps one entry in memory at
a time, whatever the range's size. Each entry is written as three length-prefixed parts: its
place (JSON), its AMQP properties as pika encodes them on the wire (headers included, types
kept), and its body. The file is deleted when the spool is closed, or when the process ends.
"""

from __future__ import annotations

import json
import struct
import tempfile
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType

import pika

from broker.replay_range import Entry

_LENGTHS = struct.Struct(">III")


class Spool:
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="shopflow-replay-")  # noqa: SIM115
        self.count = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()

    def add(self, entry: Entry) -> None:
        place = json.dumps(
            {
                "stream": entry.stream,
                "offset": entry.offset,
                "type": entry.type,
                "id": entry.event_id,
                "time": entry.time.isoformat(),
                "queue": entry.queue,
            }
        ).encode()
        properties = b"".join(entry.properties.encode())
        self._file.seek(0, 2)  # at the end, whatever a reading left
        self._file.write(_LENGTHS.pack(len(place), len(properties), len(entry.body)))
        self._file.write(place + properties + entry.body)
        self.count += 1

    def __iter__(self) -> Iterator[Entry]:
        """Every entry, in the order added."""
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            sizes = _LENGTHS.unpack(self._file.read(_LENGTHS.size))
            place, encoded, body = (self._file.read(size) for size in sizes)
            properties = pika.BasicProperties()
            properties.decode(encoded)
            found = json.loads(place)
            yield Entry(
                found["stream"],
                found["offset"],
                found["type"],
                found["id"],
                datetime.fromisoformat(found["time"]),
                found["queue"],
                properties,
                body,
            )
