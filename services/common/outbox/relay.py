"""The relay loop: publish pending outbox rows in commit order, mark each only after its confirm.

Per pass: hold the lease, read up to `batch_size` pending rows (oldest first), publish them with a
window of confirms in flight (while the lease is held), then record the result in one short
transaction: the rows of the longest prefix the broker acked (and did not return) are marked
published, the first failure keeps its error, and every row after it stays pending. Those later
rows may already have reached the broker in the same window; they go out again with the next pass
and the consumers' inbox drops the duplicate. A failed pass is retried after a capped exponential
backoff; an idle relay waits for a wake-up datagram or the fallback poll interval, and meanwhile
deletes published rows past their retention, a small batch at a time (`retention.py`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from services.common.backoff import equal_jitter
from services.common.outbox.lease import Lease
from services.common.outbox.publisher import BrokerUnavailable, Publisher
from services.common.outbox.settings import RelayTuning
from services.common.outbox.store import OutboundMessage, OutboxStore
from services.common.outbox.wakeup import UdpWakeupListener
from services.common.retention import Pruner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassResult:
    leader: bool
    published: int = 0
    error: str | None = None
    full_batch: bool = False


class Backoff:
    """Counts failed passes in a row; the wait after each is `equal_jitter` of that count."""

    def __init__(
        self, initial: float, maximum: float, jitter: Callable[[], float] = random.random
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self._jitter = jitter
        self.failures = 0

    def next_delay(self) -> float:
        delay = equal_jitter(self.failures, base=self.initial, cap=self.maximum, rand=self._jitter)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class PublishedLog:
    """What the relay published, as one INFO line per `interval` seconds at most: the first pass
    after a quiet spell is logged at once, the passes after it are summed into the next line. A
    line per pass was 5 to 7% of the relay's CPU at one row per pass (py-spy); the metrics count
    every row (`shopflow_relay_published_total`)."""

    def __init__(
        self, interval: float = 10.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = monotonic
        self._due = 0.0
        self._events = self._passes = 0

    def add(self, events: int, last_row: int) -> None:
        self._events += events
        self._passes += 1
        now = self._clock()
        if now < self._due:
            return
        log.info(
            "published %d event(s) in %d pass(es), last row %d",
            self._events,
            self._passes,
            last_row,
        )
        self._events = self._passes = 0
        self._due = now + self.interval


class OutboxRelay:
    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        lease: Lease,
        *,
        wakeup: UdpWakeupListener | None = None,
        config: RelayTuning | None = None,
        pruner: Pruner | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.lease = lease
        self.wakeup = wakeup
        self.config = config or RelayTuning()
        self.pruner = pruner
        self.backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        self._published_log = PublishedLog()

    def run_once(self) -> PassResult:
        if not self.lease.hold():
            return PassResult(leader=False)
        batch = self.store.pending(self.config.batch_size)
        if not batch:
            return PassResult(leader=True)
        result = self.publisher.publish_batch(self._while_leased(batch))
        confirmed = list(result.confirmed)
        failed: tuple[int, str] | None = None
        if result.failure is not None:
            message, exc = result.failure.message, result.failure.error
            failed = (message.row_id, str(exc))
            kind = "broker unavailable" if isinstance(exc, BrokerUnavailable) else "rejected"
            log.warning(
                "event %s (%s) not published, %s: %s",
                message.event_id,
                message.event_type,
                kind,
                exc,
            )
        self.store.record(confirmed, failed)
        if confirmed:
            self._published_log.add(len(confirmed), confirmed[-1])
        return PassResult(
            leader=True,
            published=len(confirmed),
            error=failed[1] if failed else None,
            full_batch=len(batch) == self.config.batch_size and failed is None,
        )

    def _while_leased(self, batch: list[OutboundMessage]) -> Iterator[OutboundMessage]:
        """The batch, cut short if the lease runs out: never publish on an expired lease (the
        next pass renews it first). The publisher takes each message just before sending it."""
        for message in batch:
            if not self.lease.held():
                return
            yield message

    def run(self, stop: threading.Event) -> None:
        log.info("relay running (holder %s)", self.lease.holder)
        try:
            while not stop.is_set():
                try:
                    result = self.run_once()
                except SQLAlchemyError as exc:
                    log.warning("database error in the relay: %s", exc)
                    result = PassResult(leader=self.lease.held(), error=str(exc))
                self._follow_leadership(result.leader)
                if result.error is not None:
                    delay = self.backoff.next_delay()
                    log.info("retrying in %.2fs (attempt %d)", delay, self.backoff.failures)
                    stop.wait(delay)
                    continue
                self.backoff.reset()
                if result.full_batch:
                    continue
                self._wait_for_work(stop)
        finally:
            self.shutdown()

    def _follow_leadership(self, leader: bool) -> None:
        if self.wakeup is None:
            return
        if leader:
            self.wakeup.open()
        else:
            self.wakeup.close()

    def _wait_for_work(self, stop: threading.Event) -> None:
        self.publisher.idle()
        timeout = min(self.config.poll_interval, self._prune())
        if self.wakeup is not None and self.wakeup.listening:
            self.wakeup.wait(timeout)
        else:
            stop.wait(timeout)

    def _prune(self) -> float:
        """One batch of old published rows, if one is due and we hold the lease (the relay owns
        its outbox); seconds until the next is due. Never while there is something to publish:
        only an idle relay gets here."""
        if self.pruner is None or not self.lease.held():
            return self.config.poll_interval
        try:
            return self.pruner.step()
        except SQLAlchemyError as exc:
            log.warning("pruning the outbox failed, trying again later: %s", exc)
            return self.config.poll_interval

    def shutdown(self) -> None:
        if self.wakeup is not None:
            self.wakeup.close()
        self.publisher.close()
        self.store.close()
        try:
            self.lease.release()
        except SQLAlchemyError as exc:
            log.warning("could not release the relay lease: %s", exc)
        log.info("relay stopped")
