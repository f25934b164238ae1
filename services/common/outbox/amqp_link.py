"""One AMQP connection over pika's public asynchronous adapter, run in the caller's own thread.

pika's `SelectConnection` reports every frame the relay cares about through callbacks (each
publisher confirm, each basic.return, a channel or connection closing), which is what a window of
confirms in flight needs (`confirm_window.py`); `BlockingChannel` waits for each confirm in turn.
Its `IOLoop` runs here only while the caller waits: `run` starts the loop and a callback (or the
time limit) stops it, so no thread is added and nothing happens between two waits. Only the
adapter's public calls are used: `SelectConnection.create_connection` (which tries every node of
`BROKER_NODES` in turn, as `BlockingConnection` does), the `IOLoop`'s `start`, `stop`,
`call_later` and `remove_timeout`, and the channel's and the connection's callbacks.

Each `run` costs a few system calls more than BlockingConnection's wait (`start` sets up the
poller, `stop` wakes it through a socket pair): about 15 us more per wait with nothing to read.
The publisher reads the broker while idle at most once a second (`PikaPublisher.idle`), and with
that, publishing a one-message batch and idling costs what it did over BlockingConnection: 304 us
of CPU against 331 (295 for BlockingConnection reading as seldom), medians of six alternating
rounds of 1,500 in one process on this machine. pika's own `IOLoop.poll`/`process_timeouts`,
which BlockingConnection drives, would save those 15 us, but pika marks them as internal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import pika
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.adapters.utils.connection_workflow import (
    AMQPConnectionWorkflowFailed,
    AMQPConnectorPhaseErrorBase,
)
from pika.exceptions import AMQPConnectionError

Condition = Callable[[], bool]
_PIKA_STACK_TIMEOUT = 15.0  # pika's default, when a node's parameters set none


class AmqpLink:
    """A connection and its I/O loop; `error` says why the connection closed, once it has."""

    def __init__(self, ioloop: IOLoop, connection: Any) -> None:
        self.connection = connection
        self.error: BaseException | None = None
        self._ioloop = ioloop
        self._done: Condition | None = None
        connection.add_on_close_callback(self._on_close)

    @classmethod
    def connect(cls, params: Sequence[pika.ConnectionParameters]) -> AmqpLink:
        """Connect to the first node of `params` that answers, each attempt bounded by its own
        `stack_timeout`; raises AMQPConnectionError as BlockingConnection does."""
        ioloop = IOLoop()
        outcome: list[Any] = []

        def on_done(result: Any) -> None:
            outcome.append(result)
            ioloop.stop()

        workflow = SelectConnection.create_connection(
            list(params), on_done=on_done, custom_ioloop=ioloop
        )
        limit = sum(p.stack_timeout or _PIKA_STACK_TIMEOUT for p in params) + 1.0
        if not _drive(ioloop, lambda: bool(outcome), limit):
            workflow.abort()  # reports AMQPConnectionWorkflowAborted through on_done
            _drive(ioloop, lambda: bool(outcome), 1.0)
        result = outcome[0] if outcome else AMQPConnectionError("no end to the connection attempt")
        if isinstance(result, BaseException):
            ioloop.close()
            raise _connect_error(result)
        return cls(ioloop, result)

    @property
    def is_open(self) -> bool:
        return self.error is None and bool(self.connection.is_open)

    @property
    def node(self) -> pika.ConnectionParameters:
        """The parameters of the node this connection reached."""
        return self.connection.params

    def run(self, done: Condition, timeout: float) -> bool:
        """Process I/O until `done()` or the connection closes (True), or for `timeout` seconds
        (False). A callback that may make `done()` true calls `wake`."""
        self._done = done
        try:
            return _drive(self._ioloop, self._settled, timeout)
        finally:
            self._done = None

    def wake(self) -> None:
        """Stop the loop if what `run` waits for has happened."""
        if self._done is not None and self._settled():
            self._ioloop.stop()

    def process_ready(self) -> None:
        """Handle whatever the broker sent meanwhile (heartbeats, a close), without waiting."""
        self.run(lambda: False, 0.0)

    def channel(self, timeout: float) -> Any:
        """A new open channel; raises the connection's error, or AMQPConnectionError."""
        opened: list[Any] = []

        def on_open(channel: Any) -> None:
            opened.append(channel)
            self.wake()

        self.connection.channel(on_open_callback=on_open)
        if not self.run(lambda: bool(opened), timeout):
            raise AMQPConnectionError(f"no channel within {timeout:g}s")
        if not opened:
            assert self.error is not None
            raise self.error
        return opened[0]

    def close(self, timeout: float = 5.0) -> None:
        """Close the connection (waiting up to `timeout` for the broker's close-ok) and the loop."""
        try:
            if self.connection.is_open:
                self.connection.close()
            if not self.connection.is_closed:
                self.run(lambda: bool(self.connection.is_closed), timeout)
        finally:
            self._ioloop.close()

    def _settled(self) -> bool:
        return self.error is not None or (self._done is not None and self._done())

    def _on_close(self, _connection: Any, reason: BaseException) -> None:
        self.error = reason
        self._ioloop.stop()


def _drive(ioloop: IOLoop, settled: Condition, timeout: float) -> bool:
    """Run `ioloop` until `settled()` (True) or `timeout` (False). The callbacks that can settle
    it stop the loop; a stop left over from an earlier run only costs one more turn."""
    if settled():
        return True
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        ioloop.stop()

    timer = ioloop.call_later(max(timeout, 0.0), expire)
    try:
        while not (expired or settled()):
            ioloop.start()
    finally:
        ioloop.remove_timeout(timer)
    return settled()


def _connect_error(error: BaseException) -> BaseException:
    """What BlockingConnection raises for the same failure: the last attempt's error."""
    if isinstance(error, AMQPConnectionWorkflowFailed) and error.exceptions:
        error = error.exceptions[-1]
    if isinstance(error, AMQPConnectorPhaseErrorBase) and error.exception is not None:
        error = cast(BaseException, error.exception)
    if not isinstance(error, AMQPConnectionError):
        error = cast(BaseException, AMQPConnectionError(error))
    return error
