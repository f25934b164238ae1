"""The scenario's view of a running system: the HTTP API, the broker, the stock, the mails.

Everything is read the way a person would: the API over HTTP, the queues through the management
API as the read-only monitor login, the mails from the SMTP sink's folder. Only the poison event
is published directly, as the admin login of the vhost tool.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pika

from broker.management import ManagementClient
from broker.settings import ProvisionSettings
from services.common import topology as t
from services.common.db import Database
from services.email.sink.config import SinkSettings
from services.email.sink.mailbox import Mailbox
from services.inventory.settings import Settings as InventorySettings
from services.inventory.stock import StockLevel, stock_levels
from services.orders.settings import Settings as OrdersSettings


@dataclass
class World:
    api: httpx.Client
    management: ManagementClient
    provision: ProvisionSettings
    inventory_db: Database
    mailbox: Mailbox
    topology: t.Topology

    @classmethod
    def connect(cls, api_url: str | None = None) -> World:
        orders = OrdersSettings()
        provision = ProvisionSettings()
        broker = provision.broker
        return cls(
            api=httpx.Client(
                base_url=api_url or f"http://{orders.http_host}:{orders.http_port}", timeout=10
            ),
            management=ManagementClient(
                broker.management_url,
                t.user_name(broker.vhost, t.MONITOR),
                provision.monitor_password.get_secret_value(),
            ),
            provision=provision,
            inventory_db=Database(InventorySettings().database_url),
            mailbox=Mailbox(SinkSettings().dir),
            topology=t.build(broker.vhost, broker.queue_type),
        )

    def close(self) -> None:
        self.api.close()
        self.management.close()
        self.inventory_db.dispose()

    # -- stock and mails -------------------------------------------------------------------

    def stock(self) -> dict[str, StockLevel]:
        return {level.sku: level for level in stock_levels(self.inventory_db)}

    def mails_by_recipient(self) -> dict[str, Counter[str]]:
        """recipient -> Counter(template), read from each mail's Message-ID
        (`<event id>.<template>@domain`)."""
        out: dict[str, Counter[str]] = {}
        for mail in self.mailbox.mails():
            to = mail.header("To").strip().lower()
            template = mail.header("Message-ID").strip("<>").split("@")[0].rsplit(".", 1)[-1]
            out.setdefault(to, Counter())[template] += 1
        return out

    # -- broker ----------------------------------------------------------------------------

    def inject_poison(self) -> str:
        """Publish a malformed `order.placed` to the `orders` exchange; returns its message id."""
        message_id = f"scenario-poison-{uuid.uuid4()}"
        broker = self.provision.broker
        params = pika.ConnectionParameters(
            host=broker.host,
            port=broker.port,
            virtual_host=broker.vhost,
            credentials=pika.PlainCredentials(
                self.provision.admin_user, self.provision.admin_password.get_secret_value()
            ),
        )
        conn = pika.BlockingConnection(params)
        try:
            ch = conn.channel()
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
        finally:
            conn.close()
        return message_id

    def dead_letter_ids(self, queue: str) -> list[str]:
        vhost = self.topology.vhost
        messages = self.management.get_messages(vhost, queue, count=1000)
        return [str(m.get("properties", {}).get("message_id")) for m in messages]

    def queue_depths(self) -> dict[str, int]:
        """Messages (ready + unacked) in every working queue (not the DLQs and sinks)."""
        working = [q.name for q in self.topology.queues if q.owner is not None]
        out: dict[str, int] = {}
        for name in working:
            info: dict[str, Any] = self.management.queue(self.topology.vhost, name) or {}
            out[name] = int(info.get("messages", 0) or 0)
        return out
