"""The transactional outbox, shared by every service that publishes events.

- `tables`: `OutboxMixin` / `LeaseMixin` to map into a service's own metadata;
- `store`: `add_event` (inside the business transaction) and `OutboxStore` (the relay's reads and
  marks, in plain SQL: `relay_sql`);
- `relay`: `OutboxRelay`, the loop; `publisher` the interface, `pika_publisher` the real one,
  publishing through `confirm_window` (several confirms in flight) on an `amqp_link` (pika's
  asynchronous adapter, run in the relay's thread);
- `lease`: one active relay at a time; `wakeup`: UDP wake-ups after commit.
"""

from services.common.outbox.lease import Lease
from services.common.outbox.pika_publisher import PikaPublisher
from services.common.outbox.publisher import (
    BrokerUnavailable,
    Publisher,
    PublishFailed,
    PublishRejected,
)
from services.common.outbox.relay import Backoff, OutboxRelay, PassResult
from services.common.outbox.settings import RelayTuning
from services.common.outbox.store import OutboundMessage, OutboxStore, add_event
from services.common.outbox.tables import LeaseMixin, OutboxMixin
from services.common.outbox.wakeup import (
    UdpWakeupListener,
    UdpWakeupSender,
    publishing_database,
    wake_relay_after_commit,
)

__all__ = [
    "Backoff",
    "BrokerUnavailable",
    "Lease",
    "LeaseMixin",
    "OutboundMessage",
    "OutboxMixin",
    "OutboxRelay",
    "OutboxStore",
    "PassResult",
    "PikaPublisher",
    "PublishFailed",
    "PublishRejected",
    "Publisher",
    "RelayTuning",
    "UdpWakeupListener",
    "UdpWakeupSender",
    "add_event",
    "publishing_database",
    "wake_relay_after_commit",
]
