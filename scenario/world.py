"""The scenario's view of a running system: the HTTP API, the broker, the stock, the mails,
and what the services contribute to its checks.

Everything is read the way a person would: the API over HTTP (as the operator, whose orders
the per-client limit does not count), the queues through the management API as the read-only
monitor login, the mails from the SMTP sink's folder, the stock from the inventory database,
each contributed check from its service's database (scenario/contributed.py).
Three things are done behind the services' backs, each as a person at the shop would: goods
received for the run (`restock`, inventory's own function), the poison event published
directly, and that poison taken out of the dead-letter queues again; the last two as the admin
login of the vhost tool.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pika
from sqlalchemy.exc import SQLAlchemyError

from broker.admin import admin_channel
from broker.dead_letters import DeadLetter, discard, letters, put_back, sink_queues
from broker.management import ManagementClient, ManagementError
from broker.queue_stats import QueueWatch
from broker.settings import ProvisionSettings
from scenario.contributed import ServiceChecks, contributed
from services.common import topology as t
from services.common.db import Database
from services.email.sink.config import SinkSettings
from services.email.sink.mailbox import Mailbox
from services.inventory.settings import Settings as InventorySettings
from services.inventory.stock import StockLevel, restock, stock_levels
from services.orders.settings import Settings as OrdersSettings

# Every poison event the scenario publishes has a message id starting with this, so that its
# leftovers (a run cut short) can be told from anybody else's dead letters.
POISON_ID_PREFIX = "scenario-poison-"
POISONED_DLQS = tuple(f"{q}.dlq" for q in (t.INVENTORY_EVENTS_QUEUE, t.EMAIL_EVENTS_QUEUE))


class NotReady(RuntimeError):
    """A part of the system the scenario needs is not there; the message says which, and how
    to start it."""


@dataclass
class World:
    api: httpx.Client
    management: ManagementClient
    provision: ProvisionSettings
    inventory_db: Database
    services: list[ServiceChecks]
    mailbox: Mailbox
    topology: t.Topology

    @classmethod
    def connect(cls, api_url: str | None = None) -> World:
        """Builds the clients; nothing is contacted until `check_ready` or the run."""
        orders = OrdersSettings()
        provision = ProvisionSettings()
        broker = provision.broker
        # As the operator: the per-client limit on placing orders (ORDERS_PLACE_RATE_LIMIT, 300 a
        # minute by default) does not count the operator's, and a run may place thousands.
        token = orders.operator_token
        auth = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        return cls(
            api=httpx.Client(
                base_url=api_url or f"http://{orders.http_host}:{orders.http_port}",
                headers=auth,
                timeout=10,
            ),
            management=ManagementClient(
                broker.management_url,
                t.user_name(broker.vhost, t.MONITOR),
                provision.monitor_password.get_secret_value(),
            ),
            provision=provision,
            inventory_db=Database(InventorySettings().database_url),
            services=contributed(),
            mailbox=Mailbox(SinkSettings().dir),
            topology=t.build(broker.vhost, broker.queue_type),
        )

    def close(self) -> None:
        self.api.close()
        self.management.close()
        self.inventory_db.dispose()
        for service in self.services:
            service.db.dispose()

    def check_ready(self) -> None:
        """Raise NotReady (or BrokerUnavailable) naming the first part that is not there."""
        with admin_channel(self.provision):
            pass
        try:
            self.management.get("/overview")
        except ManagementError as exc:
            raise NotReady(
                f"{exc}; is RabbitMQ's management plugin on? "
                "(`bash broker/ensure-rabbitmq.sh` turns it on)"
            ) from exc
        try:
            self.api.get("/health").raise_for_status()
        except httpx.HTTPError as exc:
            raise NotReady(
                f"the orders API does not answer at {self.api.base_url} ({exc}): start the "
                "system with `make up` (if it runs: `.venv/bin/python -m runner start orders-api`)"
            ) from exc
        if not self._has_stock():
            url = self.inventory_db.engine.url.render_as_string(hide_password=True)
            raise NotReady(f"no stock in the inventory database {url}: run `make databases`")

    def _has_stock(self) -> bool:
        try:
            return bool(self.stock())
        except SQLAlchemyError:
            return False

    # -- stock and mails -------------------------------------------------------------------

    def stock(self) -> dict[str, StockLevel]:
        return {level.sku: level for level in stock_levels(self.inventory_db)}

    def restock(self, quantities: dict[str, int]) -> None:
        restock(self.inventory_db, quantities)

    def mails_by_recipient(self, since_ns: int = 0) -> dict[str, Counter[str]]:
        """recipient -> Counter(template) of the mails stored since `since_ns` (a wall-clock
        time, compared with each file's mtime: earlier runs' mails are not even parsed), read
        from each mail's Message-ID (`<event id>.<template>@domain`)."""
        out: dict[str, Counter[str]] = {}
        for path in self.mailbox.paths():
            if path.stat().st_mtime_ns < since_ns:
                continue
            mail = self.mailbox.read(path)
            to = mail.header("To").strip().lower()
            template = mail.header("Message-ID").strip("<>").split("@")[0].rsplit(".", 1)[-1]
            out.setdefault(to, Counter())[template] += 1
        return out

    # -- broker ----------------------------------------------------------------------------

    def inject_poison(self) -> str:
        """Publish a malformed `order.placed` to the `orders` exchange; returns its message id."""
        message_id = f"{POISON_ID_PREFIX}{uuid.uuid4()}"
        with admin_channel(self.provision) as ch:
            ch.confirm_delivery()
            ch.basic_publish(
                t.ORDERS_EXCHANGE,
                t.ORDER_PLACED,
                b'{"type": "order.placed", "data": {"this is": "not an order"',
                pika.BasicProperties(
                    content_type="application/json", delivery_mode=2, message_id=message_id
                ),
                mandatory=True,
            )
        return message_id

    def take_poison(self, message_id: str, deadline: float) -> set[str]:
        """Wait (until `deadline`) for the poison event in each DLQ it must reach, deleting it
        from each as it arrives and touching nothing else there; returns where it was found."""
        found: set[str] = set()
        with admin_channel(self.provision) as ch:
            while True:
                for dlq in set(POISONED_DLQS) - found:
                    if discard(ch, dlq, lambda letter: _has_id(letter, message_id)):
                        found.add(dlq)
                if found == set(POISONED_DLQS) or time.monotonic() > deadline:
                    return found
                time.sleep(0.5)

    def poison_left(self, wanted: Iterable[str] = ()) -> Counter[str]:
        """Poison events in the DLQs (those with these ids; without ids, every one any run of
        the scenario left), per queue; nothing is taken away."""
        ids = set(wanted)
        counts: Counter[str] = Counter()
        with admin_channel(self.provision) as ch:
            for queue in sink_queues(self.topology):
                counts[queue] = sum(_is_poison(x, ids) for x in letters(ch, queue))
                put_back(ch)
        return +counts

    def discard_poison(self, wanted: Iterable[str] = ()) -> Counter[str]:
        """Delete poison events (as `poison_left` picks them) from every DLQ and sink."""
        ids = set(wanted)
        counts: Counter[str] = Counter()
        with admin_channel(self.provision) as ch:
            for queue in sink_queues(self.topology):
                counts[queue] = len(discard(ch, queue, lambda x: _is_poison(x, ids)))
        return +counts

    @contextmanager
    def working_queues(self) -> Iterator[QueueWatch]:
        """A watch on every working queue (not the DLQs and sinks), whose figures are newer
        than its first poll (broker/queue_stats.py): the queues' statistics as the monitor reads
        them, and passive declares, as the admin, that keep idle queues emitting them."""
        names = [q.name for q in self.topology.queues if q.owner is not None]
        with admin_channel(self.provision) as ch:
            yield QueueWatch(ch, self.management, self.topology.vhost, names)


def _has_id(letter: DeadLetter, message_id: str) -> bool:
    return bool(letter.properties.message_id == message_id)


def _is_poison(letter: DeadLetter, ids: set[str]) -> bool:
    message_id = letter.properties.message_id or ""
    return message_id in ids if ids else message_id.startswith(POISON_ID_PREFIX)
