"""The shipping outbox relay: `python -m services.shipping.relay`.

It publishes the `shipment.*` events the worker committed to the `shipping` exchange with
publisher confirms, as the shipping user (services/common/outbox/).
"""

from __future__ import annotations

import sys

from services.common.outbox.process import RelayTarget, run_relay
from services.common.topology import SHIPPING_EXCHANGE
from services.shipping.bootstrap import bootstrap
from services.shipping.models import RELAY_LEASE_NAME, OutboxMessage, RelayLease

TARGET = RelayTarget(SHIPPING_EXCHANGE, OutboxMessage, RelayLease, RELAY_LEASE_NAME)


def main() -> int:
    shipping = bootstrap()
    return run_relay("shipping-relay", shipping.settings, shipping.db, TARGET)


if __name__ == "__main__":
    sys.exit(main())
