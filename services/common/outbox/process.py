"""The relay as a process of its own (`python -m services.<name>.relay`).

It runs apart from the processes that commit outbox rows, so that a crash, a hung broker
connection or a kill -9 of one never takes the others down, and so that several API or worker
processes share one publisher. See docs/orders.md ("The outbox and the relay").
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType

from prometheus_client import REGISTRY

from services.common.db import Database, table_of
from services.common.observability.process import observe_process
from services.common.outbox.backlog import OutboxBacklog
from services.common.outbox.lease import Lease
from services.common.outbox.pika_publisher import PikaPublisher
from services.common.outbox.relay import OutboxRelay
from services.common.outbox.settings import RelaySettings
from services.common.outbox.store import OutboxStore
from services.common.outbox.tables import LeaseMixin, OutboxMixin
from services.common.outbox.telemetry import start_counting
from services.common.outbox.wakeup import UdpWakeupListener
from services.common.retention import Expiry, Pruner


@dataclass(frozen=True)
class RelayTarget:
    """What one service's relay moves: its outbox table to its event exchange."""

    exchange: str
    outbox: type[OutboxMixin]
    lease: type[LeaseMixin]
    lease_name: str


def outbox_expiry(table: type[OutboxMixin]) -> Expiry:
    """The outbox rows retention may delete: published ones, by `published_at` (a row not
    published yet is never deleted, whatever its age)."""
    return Expiry(table_of(table), "published_at")


def build_relay(settings: RelaySettings, db: Database, target: RelayTarget) -> OutboxRelay:
    tuning, retention = settings.relay, settings.retention
    publisher = PikaPublisher(
        settings.broker_urls,
        target.exchange,
        timeout=settings.broker.connect_timeout,
        heartbeat=settings.broker.heartbeat,
        window=tuning.batch_size,
        name=f"{target.lease_name} relay",
    )
    return OutboxRelay(
        OutboxStore(db, target.outbox),
        publisher,
        Lease(db, target.lease, target.lease_name, ttl=tuning.lease_ttl),
        wakeup=UdpWakeupListener(tuning.wake_host, tuning.wake_port),
        config=tuning,
        pruner=Pruner(
            db,
            outbox_expiry(target.outbox),
            days=retention.outbox_days,
            batch=retention.prune_batch,
            pause=retention.prune_pause_seconds,
            interval=retention.prune_interval_seconds,
        ),
    )


def run_relay(name: str, settings: RelaySettings, db: Database, target: RelayTarget) -> int:
    """Run until SIGTERM/SIGINT; the lease is released on the way out."""
    service = settings.service.value
    observe_process(name, service, settings.log, settings.metrics, settings.relay.metrics_port)
    logging.getLogger("pika").setLevel(logging.WARNING)
    log = logging.getLogger(name)
    relay = build_relay(settings, db, target)
    REGISTRY.register(OutboxBacklog(relay.store, target.exchange))
    start_counting(target.exchange, table_of(target.outbox).name)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "%s: exchange %r as %s on %s (vhost %s), db %s",
        name,
        target.exchange,
        settings.broker_user,
        ", ".join(f"{host}:{port}" for host, port in settings.broker.addresses),
        settings.broker.vhost,
        db.engine.url.render_as_string(hide_password=True),
    )
    try:
        relay.run(stop)
    finally:
        db.dispose()
    return 0
