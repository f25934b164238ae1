"""The orders outbox relay, as its own process: `python -m services.orders.relay`.

It publishes the orders service's outbox rows to the `orders` exchange with publisher confirms
(services/common/outbox/). Why a process of its own: services/common/outbox/process.py.
"""

from __future__ import annotations

import sys

from services.common.db import Database
from services.common.outbox import OutboxRelay
from services.common.outbox import process as relay_process
from services.common.topology import ORDERS_EXCHANGE
from services.orders.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease
from services.orders.settings import Settings

TARGET = relay_process.RelayTarget(ORDERS_EXCHANGE, OutboxMessage, RelayLease, RELAY_LEASE_NAME)


def build_relay(settings: Settings, db: Database) -> OutboxRelay:
    return relay_process.build_relay(settings, db, TARGET)


def main() -> int:
    settings = Settings()
    return relay_process.run_relay("orders-relay", settings, settings.database_url, TARGET)


if __name__ == "__main__":
    sys.exit(main())
