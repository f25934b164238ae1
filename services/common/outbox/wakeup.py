"""Waking the relay right after a commit: one UDP datagram to a loopback port.

Every transaction that added an outbox row sends a datagram once it has committed
(`wake_relay_after_commit`, installed by each publishing process's bootstrap; handlers never do
it themselves). The relay, while it holds the lease, listens on the port and publishes at once
instead of waiting for its next poll. Datagrams are fire-and-forget: a lost one (relay
restarting, port busy, another host) only delays the event until the fallback poll.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from services.common.db import Database
from services.common.outbox.store import ROW_ADDED

log = logging.getLogger(__name__)


class UdpWakeupSender:
    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def notify(self) -> None:
        if self._address[1] == 0:
            return
        try:
            with self._lock:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    self._socket.setblocking(False)
                self._socket.sendto(b"!", self._address)
        except OSError as exc:  # nobody listening, buffer full: the poll will catch up
            log.debug("relay wake-up not sent: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def wake_relay_after_commit(db: Database, notify: Callable[[], None]) -> None:
    """After each commit of `db` that added an outbox row, wake the relay; never before the
    commit (the relay would find nothing) and never after a rollback."""

    @event.listens_for(db.sessions, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(ROW_ADDED, False):
            notify()

    @event.listens_for(db.sessions, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(ROW_ADDED, None)


def publishing_database(
    url: str, wake_host: str, wake_port: int
) -> tuple[Database, UdpWakeupSender]:
    """A service's database whose commits wake its relay, and the sender to close with it."""
    db = Database(url)
    sender = UdpWakeupSender(wake_host, wake_port)
    wake_relay_after_commit(db, sender.notify)
    return db, sender


class UdpWakeupListener:
    """Bound only while this relay holds the lease, so the active relay gets the wake-ups."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def listening(self) -> bool:
        return self._socket is not None

    def open(self) -> None:
        if self._socket is not None or self._address[1] == 0:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(self._address)
        except OSError as exc:
            sock.close()
            if not self._warned:
                log.warning(
                    "cannot listen for wake-ups on %s:%s (%s); polling only", *self._address, exc
                )
                self._warned = True
            return
        sock.setblocking(False)
        self._socket = sock
        self._warned = False
        log.info("listening for wake-ups on udp %s:%s", *self._address)

    def wait(self, timeout: float) -> bool:
        """Block until a wake-up arrives (True) or `timeout` passes (False)."""
        if self._socket is None:
            return False
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            return False
        while True:  # drain: one batch serves every commit so far
            try:
                self._socket.recv(64)
            except BlockingIOError:
                return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
