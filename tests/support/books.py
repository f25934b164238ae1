"""The books: after a run with a fault in it, account for every order the API accepted.

Everything is read from where the effects really are: the orders, inventory, email and shipping
databases (outboxes included), the SMTP sink's folder and the broker's queues. Each discrepancy
is filed under one of three heads:

- lost: an accepted order, or one of its effects, that never happened;
- duplicated: an effect that happened more than once;
- unexpected: anything else that should not be there (a wrong status, a reservation for a
  rejected order, a message left in a queue, a dead letter nobody meant to make).

A mail sent twice with the same Message-ID is the one duplicate docs/email.md allows (the sender
died between the SMTP server's "250" and recording it); it is counted apart, as `resent`, and
only for the mails the scenario saw in flight (claimed, not yet recorded as sent) in the email
worker it killed or cut off: any other second copy is a duplicate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from services.common.topology import (
    ORDER_UPDATED,
    SHIPMENT_DISPATCHED,
    STOCK_REJECTED,
    STOCK_RESERVED,
)
from tests.support.broker import TestBroker
from tests.support.snapshot import Snapshot
from tests.support.traffic import CONFIRMED, REJECTED, PlacedOrder

TERMINAL_EVENTS = ("order.confirmed", "order.rejected")
# The mails each outcome sends: a confirmed order is also shipped, and its customer told so.
MAILS = {
    CONFIRMED: ("order_received", "order_confirmed", "order_shipped"),
    REJECTED: ("order_received", "order_rejected"),
}
ANSWER = {CONFIRMED: STOCK_RESERVED, REJECTED: STOCK_REJECTED}


@dataclass
class Books:
    scenario: str
    fault: str
    orders: int
    confirmed: int = 0
    rejected: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    resent: int = 0
    resend_bound: int = 0  # mails in flight in the email worker when it was killed or cut off
    dlq_expected: dict[str, int] = field(default_factory=dict)
    dlq_found: dict[str, int] = field(default_factory=dict)
    recovery_seconds: float = 0.0
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def summary(self) -> str:
        def head(name: str, items: list[str]) -> str:
            return f"{name}={len(items)}" + (f" {items[:10]}" if items else "")

        return (
            f"[{self.scenario}] {self.orders} orders ({self.confirmed} confirmed, "
            f"{self.rejected} rejected); {head('lost', self.lost)}; "
            f"{head('duplicated', self.duplicated)}; {head('unexpected', self.unexpected)}; "
            f"resent(same Message-ID)={self.resent} of at most {self.resend_bound}; "
            f"DLQs {self.dlq_found} (expected {self.dlq_expected}); "
            f"recovered in {self.recovery_seconds:.1f}s"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def expected_mail_count(placed: list[PlacedOrder]) -> int:
    return sum(len(MAILS[o.expected_status]) for o in placed)


def drained(snap: Snapshot, placed: list[PlacedOrder]) -> bool:
    """Every accepted order has its final status, every outbox is empty and every mail is in."""
    return (
        all(snap.statuses.get(str(o.order_id)) == o.expected_status for o in placed)
        and not any(snap.unpublished.values())
        and snap.mail_count >= expected_mail_count(placed)
    )


def audit(
    books: Books,
    snap: Snapshot,
    placed: list[PlacedOrder],
    *,
    resendable: frozenset[str] = frozenset(),
) -> None:
    """Fill `books` from a snapshot taken after the system was drained and stopped.
    `resendable`: the Message-IDs that may have gone out twice (see the module's docstring)."""
    books.resend_bound = len(resendable)
    known = {str(o.order_id) for o in placed}
    for order_id in snap.statuses.keys() - known:
        books.duplicated.append(f"order {order_id} exists but no client was given it")
    reserved_by_sku: Counter[str] = Counter()
    for order in placed:
        _audit_order(books, snap, order, resendable, reserved_by_sku)
    for order_id in snap.reservations.keys() - known:
        books.unexpected.append(f"reservation for unknown order {order_id}")
    for order_id in snap.answers.keys() - known:
        books.unexpected.append(f"inventory answered unknown order {order_id}")
    for message_id, status in sorted(snap.unsent.items()):
        books.unexpected.append(f"mail {message_id}: still {status} in sent_emails")
    for sku, (on_hand, reserved) in snap.stock.items():
        if on_hand - reserved < 0 or reserved < 0:
            books.unexpected.append(
                f"{sku}: stock negative (on hand {on_hand}, reserved {reserved})"
            )
        if reserved > reserved_by_sku[sku]:
            books.duplicated.append(
                f"{sku}: reserved {reserved}, orders ask {reserved_by_sku[sku]}"
            )
        elif reserved < reserved_by_sku[sku]:
            books.lost.append(f"{sku}: reserved {reserved}, orders ask {reserved_by_sku[sku]}")
    for service, rows in snap.unpublished.items():
        if rows:
            books.lost.append(f"{service} outbox: {rows} event(s) never published")
    for recipient in snap.mails.keys() - {o.email for o in placed}:
        books.unexpected.append(f"mail to unknown recipient {recipient}")


def _audit_order(
    books: Books,
    snap: Snapshot,
    order: PlacedOrder,
    resendable: frozenset[str],
    reserved_by_sku: Counter[str],
) -> None:
    oid = str(order.order_id)
    status = snap.statuses.get(oid)
    if status is None:
        books.lost.append(f"order {order.number}: accepted as {oid} but not in the database")
        return
    if status != order.expected_status:
        target = books.lost if status == "PENDING" else books.unexpected
        target.append(f"order {order.number}: {status}, expected {order.expected_status}")
    books.confirmed += status == CONFIRMED
    books.rejected += status == REJECTED
    events = snap.order_events.get(oid, Counter())
    for type_ in ("order.placed", "terminal"):
        n = sum(events[t] for t in TERMINAL_EVENTS) if type_ == "terminal" else events[type_]
        if n == 0:
            books.lost.append(f"order {order.number}: no {type_} event in the outbox")
        elif n > 1:
            books.duplicated.append(f"order {order.number}: {n} {type_} events")
    _audit_answer(books, snap.answers.get(oid, Counter()), order)
    reservation = snap.reservations.get(oid, {})
    if order.expected_status == CONFIRMED:
        wanted = dict(order.lines)
        reserved_by_sku.update(wanted)
        if not reservation:
            books.lost.append(f"order {order.number}: confirmed but nothing reserved")
        elif reservation != wanted:
            books.unexpected.append(f"order {order.number}: reserved {reservation}, not {wanted}")
    elif reservation:
        books.unexpected.append(f"order {order.number}: rejected but reserved {reservation}")
    _audit_shipment(books, snap, order)
    mails = snap.mails.get(order.email, {})
    expected = set(MAILS[order.expected_status])
    for template in expected:
        ids = mails.get(template, Counter())
        if not ids:
            books.lost.append(f"order {order.number}: no {template} mail")
        elif len(ids) > 1:
            books.duplicated.append(f"order {order.number}: {template} with {len(ids)} Message-IDs")
        else:
            ((message_id, copies),) = ids.items()
            if copies == 2 and message_id in resendable:
                books.resent += 1
            elif copies > 1:
                books.duplicated.append(f"order {order.number}: {copies} {template} mails")
    for template in mails.keys() - expected:
        books.unexpected.append(f"order {order.number}: unexpected {template} mail")


def _audit_shipment(books: Books, snap: Snapshot, order: PlacedOrder) -> None:
    """A confirmed order is shipped once: one shipment, one shipment.dispatched, and one step
    for it in the order's timeline (order.updated); a rejected one never."""
    oid = str(order.order_id)
    wanted = 1 if order.expected_status == CONFIRMED else 0
    found = {
        "shipment": snap.shipments.get(oid, 0),
        "shipment.dispatched event": snap.dispatched.get(oid, Counter())[SHIPMENT_DISPATCHED],
        "order.updated event": snap.order_events.get(oid, Counter())[ORDER_UPDATED],
    }
    for what, n in found.items():
        if n < wanted:
            books.lost.append(f"order {order.number}: no {what}")
        elif n > wanted:
            target = books.duplicated if wanted else books.unexpected
            target.append(f"order {order.number}: {n} {what}(s)")


def _audit_answer(books: Books, answers: Counter[str], order: PlacedOrder) -> None:
    """Inventory answers each order once, in its own outbox: a second answer (a new event id for
    the same order) would reach the orders service as a second decision."""
    wanted = ANSWER[order.expected_status]
    n = sum(answers[t] for t in ANSWER.values())
    if n == 0:
        books.lost.append(f"order {order.number}: no stock.* answer in the inventory outbox")
    elif n > 1:
        books.duplicated.append(f"order {order.number}: {n} stock.* answers {dict(answers)}")
    elif not answers[wanted]:
        books.unexpected.append(f"order {order.number}: answered {dict(answers)}, not {wanted}")
    for other in answers.keys() - set(ANSWER.values()):  # stock.released: nothing expires here
        books.unexpected.append(f"order {order.number}: {answers[other]} {other} answer(s)")


def audit_queues(books: Books, broker: TestBroker, expected_dlq: dict[str, int]) -> None:
    """Run with every consumer stopped: nothing moves between the queues any more, so each
    queue's count (ready + unacked, newer than the stop) is final."""
    books.dlq_expected = dict(expected_dlq)
    held = broker.messages(*(queue.name for queue in broker.topology.queues))
    for queue in broker.topology.queues:
        depth = held[queue.name]
        if queue.name.endswith(".dlq"):
            if depth:
                books.dlq_found[queue.name] = depth
            wanted = expected_dlq.get(queue.name, 0)
            if depth != wanted:
                books.unexpected.append(f"{queue.name}: {depth} dead letters, expected {wanted}")
        elif depth:
            books.unexpected.append(f"{queue.name}: {depth} message(s) left")
