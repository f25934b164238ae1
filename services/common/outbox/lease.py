"""A lease row that lets exactly one relay publish at a time.

Two relays may run (a deploy overlapping the old one, a standby); only the lease holder publishes,
so no row is sent twice and commit order holds. The holder renews the lease well before it
expires; a relay that dies (kill -9) stops renewing and another takes over after `ttl` seconds.
A relay that shuts down cleanly releases the lease so its successor starts at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from services.common.db import Database
from services.common.outbox.tables import LeaseMixin

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        db: Database,
        table: type[LeaseMixin],
        name: str,
        *,
        ttl: float = 10.0,
        holder: str | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.table = table
        self.name = name
        self.ttl = ttl
        self.holder = holder or default_holder()
        self._wall = wall_clock
        self._mono = monotonic
        self._valid_until = 0.0  # monotonic; we stop publishing a margin before the DB expiry

    def held(self) -> bool:
        """Do we hold the lease right now (by our own clock, with a safety margin)?"""
        return self._mono() < self._valid_until

    def hold(self) -> bool:
        """Acquire the lease, or renew it when half of it is used up. True if we hold it."""
        if self._mono() < self._valid_until - self.ttl * 0.3:
            return True
        started = self._mono()
        was_held = self.held()
        if self._try_acquire():
            self._valid_until = started + self.ttl * 0.8
            if not was_held:
                log.info("relay lease %r acquired by %s", self.name, self.holder)
            return True
        if was_held:
            log.warning("relay lease %r lost; another relay holds it", self.name)
        self._valid_until = 0.0
        return False

    def _try_acquire(self) -> bool:
        t = self.table
        now = self._wall()
        with self.db.transaction() as session:
            taken = session.execute(
                update(t)
                .where(t.name == self.name, (t.holder == self.holder) | (t.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return True
        try:
            with self.db.transaction() as session:
                session.execute(
                    insert(t).values(name=self.name, holder=self.holder, expires_at=now + self.ttl)
                )
        except IntegrityError:
            return False  # someone else holds it
        return True

    def release(self) -> None:
        if not self.held():
            return
        self._valid_until = 0.0
        t = self.table
        with self.db.transaction() as session:
            session.execute(
                update(t).where(t.name == self.name, t.holder == self.holder).values(expires_at=0.0)
            )
        log.info("relay lease %r released by %s", self.name, self.holder)
