"""The inventory outbox relay: `python -m services.inventory.relay`.

It publishes the `stock.*` events the worker committed to the `inventory` exchange with publisher
confirms, as the inventory user (services/common/outbox/).
"""

from __future__ import annotations

import sys

from services.common.outbox import process as relay_process
from services.common.topology import INVENTORY_EXCHANGE
from services.inventory.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease
from services.inventory.settings import Settings

TARGET = relay_process.RelayTarget(INVENTORY_EXCHANGE, OutboxMessage, RelayLease, RELAY_LEASE_NAME)


def main() -> int:
    settings = Settings()
    return relay_process.run_relay("inventory-relay", settings, settings.database_url, TARGET)


if __name__ == "__main__":
    sys.exit(main())
