"""The inventory outbox relay: `python -m services.inventory.relay`.

It publishes the `stock.*` events the worker committed to the `inventory` exchange with publisher
confirms, as the inventory user (services/common/outbox/).
"""

from __future__ import annotations

import sys

from services.common.outbox.process import RelayTarget, run_relay
from services.common.topology import INVENTORY_EXCHANGE
from services.inventory.bootstrap import bootstrap
from services.inventory.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease

TARGET = RelayTarget(INVENTORY_EXCHANGE, OutboxMessage, RelayLease, RELAY_LEASE_NAME)


def main() -> int:
    inventory = bootstrap()
    return run_relay("inventory-relay", inventory.settings, inventory.db, TARGET)


if __name__ == "__main__":
    sys.exit(main())
