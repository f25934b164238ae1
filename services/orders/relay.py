"""The orders outbox relay, as its own process: `python -m services.orders.relay`.

It publishes the orders service's outbox rows to the `orders` exchange with publisher confirms
(services/common/outbox/). Why a process of its own: services/common/outbox/process.py.
"""

from __future__ import annotations

import sys

from services.common.outbox.process import RelayTarget, run_relay
from services.common.topology import ORDERS_EXCHANGE
from services.orders.bootstrap import bootstrap
from services.orders.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease

TARGET = RelayTarget(ORDERS_EXCHANGE, OutboxMessage, RelayLease, RELAY_LEASE_NAME)


def main() -> int:
    orders = bootstrap()
    return run_relay("orders-relay", orders.settings, orders.db, TARGET)


if __name__ == "__main__":
    sys.exit(main())
