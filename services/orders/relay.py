"""The orders outbox relay, as its own process: `python -m services.orders.relay`.

It runs apart from the API so that a crash, a hung broker connection or a kill -9 of either one
never takes the other down, and so several API workers share one publisher. See docs/orders.md.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from services.common.db import Database
from services.common.outbox import (
    Lease,
    OutboxRelay,
    OutboxStore,
    PikaPublisher,
    RelayConfig,
    UdpWakeupListener,
)
from services.common.topology import ORDERS_EXCHANGE
from services.orders.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease
from services.orders.settings import Settings


def build_relay(settings: Settings, db: Database) -> OutboxRelay:
    return OutboxRelay(
        OutboxStore(db, OutboxMessage),
        PikaPublisher(
            settings.broker_url,
            ORDERS_EXCHANGE,
            timeout=settings.broker.connect_timeout,
            heartbeat=settings.broker.heartbeat,
        ),
        Lease(db, RelayLease, RELAY_LEASE_NAME, ttl=settings.relay_lease_ttl),
        wakeup=UdpWakeupListener(settings.relay_wake_host, settings.relay_wake_port),
        config=RelayConfig(
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
            backoff_initial=settings.relay_backoff_initial,
            backoff_max=settings.relay_backoff_max,
        ),
    )


def main() -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s [orders-relay] %(name)s: %(message)s"
    )
    logging.getLogger("pika").setLevel(logging.WARNING)
    settings = Settings()
    db = Database(settings.database_url)
    relay = build_relay(settings, db)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.getLogger(__name__).info(
        "orders relay: exchange %r as %s on %s:%s/%s, db %s",
        ORDERS_EXCHANGE,
        settings.broker_user,
        settings.broker.host,
        settings.broker.port,
        settings.broker.vhost,
        db.engine.url.render_as_string(hide_password=True),
    )
    try:
        relay.run(stop)
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
