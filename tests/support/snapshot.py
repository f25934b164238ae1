"""A snapshot of everything a fault run left behind, read where it really is: the orders,
inventory, email and shipping databases (outboxes included) and the SMTP sink's folder. The books
(tests/support/books.py) audit it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import Database
from services.email.models import SentEmail
from services.email.models import Status as EmailStatus
from services.email.sink.mailbox import Mailbox
from services.inventory import models as inventory
from services.orders import models as orders
from services.shipping import models as shipping


def bare(message_id: str) -> str:
    """A Message-ID without its angle brackets, as the books compare them."""
    return message_id.strip().strip("<>")


@dataclass
class Snapshot:
    """What the system holds right now."""

    statuses: dict[str, str]
    order_events: dict[str, Counter[str]]  # order id -> Counter(event type) in the orders outbox
    answers: dict[str, Counter[str]]  # order id -> Counter(event type) in the inventory outbox
    unpublished: dict[str, int]  # service -> outbox rows not yet confirmed by the broker
    reservations: dict[str, dict[str, int]]  # order id -> {sku: quantity}
    stock: dict[str, tuple[int, int]]  # sku -> (on_hand, reserved)
    unsent: dict[str, str]  # Message-ID -> status, for sent_emails rows not marked sent
    mails: dict[str, dict[str, Counter[str]]]  # recipient -> template -> Counter(Message-ID)
    mail_count: int
    shipments: dict[str, int]  # order id -> shipments (the primary key allows one)
    dispatched: dict[str, Counter[str]]  # order id -> Counter(event type) in the shipping outbox

    @classmethod
    def take(
        cls,
        orders_db: Database,
        inventory_db: Database,
        email_db: Database,
        shipping_db: Database,
        mailbox: Mailbox,
    ) -> Snapshot:
        statuses, order_events, orders_unpublished = _orders_side(orders_db)
        shipments, dispatched, shipping_unpublished = _shipping_side(shipping_db)
        answers, inventory_unpublished, reservations, stock = _inventory_side(inventory_db)
        with email_db.transaction() as s:
            not_sent = SentEmail.status != EmailStatus.SENT
            rows = s.execute(select(SentEmail.message_id, SentEmail.status).where(not_sent))
            unsent = {bare(message_id): status for message_id, status in rows}
        mails: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
        count = 0
        for mail in mailbox.mails():
            message_id = bare(mail.header("Message-ID"))
            template = message_id.split("@")[0].rsplit(".", 1)[-1]
            mails[mail.header("To").strip().lower()][template][message_id] += 1
            count += 1
        unpublished = {
            "orders": orders_unpublished,
            "inventory": inventory_unpublished,
            "shipping": shipping_unpublished,
        }
        return cls(
            statuses,
            order_events,
            answers,
            unpublished,
            reservations,
            stock,
            unsent,
            mails,
            count,
            shipments,
            dispatched,
        )


def _events_by_order(
    session: Session,
    table: type[orders.OutboxMessage]
    | type[inventory.OutboxMessage]
    | type[shipping.OutboxMessage],
) -> tuple[dict[str, Counter[str]], int]:
    """Order id -> Counter(event type) of an outbox, and how many of its rows are unpublished."""
    events: dict[str, Counter[str]] = defaultdict(Counter)
    unpublished = 0
    for aggregate, type_, published in session.execute(
        select(table.aggregate_id, table.event_type, table.published_at)
    ):
        events[aggregate][type_] += 1
        unpublished += published is None
    return events, unpublished


def _orders_side(db: Database) -> tuple[dict[str, str], dict[str, Counter[str]], int]:
    with db.transaction() as s:
        statuses: dict[str, str] = {
            order_id: status
            for order_id, status in s.execute(select(orders.Order.id, orders.Order.status))
        }
        return statuses, *_events_by_order(s, orders.OutboxMessage)


def _inventory_side(
    db: Database,
) -> tuple[dict[str, Counter[str]], int, dict[str, dict[str, int]], dict[str, tuple[int, int]]]:
    with db.transaction() as s:
        answers, unpublished = _events_by_order(s, inventory.OutboxMessage)
        reservations: dict[str, dict[str, int]] = defaultdict(dict)
        for r in s.scalars(select(inventory.Reservation)):
            reservations[r.order_id][r.sku] = r.quantity
        stock = {st.sku: (st.on_hand, st.reserved) for st in s.scalars(select(inventory.Stock))}
        return answers, unpublished, reservations, stock


def _shipping_side(db: Database) -> tuple[dict[str, int], dict[str, Counter[str]], int]:
    with db.transaction() as s:
        shipments: Counter[str] = Counter(s.scalars(select(shipping.Shipment.order_id)))
        return dict(shipments), *_events_by_order(s, shipping.OutboxMessage)
