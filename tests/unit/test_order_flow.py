"""What one order sets moving, derived from the routing tables (services/common/topology/flow.py),
and what the bench and the scenario read from it: a confirmed order is shipped and orders notes
the shipment; a rejected one sets nothing more moving."""

from __future__ import annotations

from bench.order_flow import hand_offs_per_order, mail_sources, mails_per_order
from scenario.plan import PlannedOrder
from services.common import topology as t
from services.common.registry import Service


def test_a_confirmed_order_is_placed_reserved_confirmed_shipped_and_noted() -> None:
    assert t.order_events(t.ORDER_CONFIRMED) == (
        t.ORDER_PLACED,
        t.STOCK_RESERVED,
        t.ORDER_CONFIRMED,
        t.SHIPMENT_DISPATCHED,
        t.ORDER_UPDATED,
    )


def test_a_rejected_order_ends_with_its_rejection() -> None:
    assert t.order_events(t.ORDER_REJECTED) == (
        t.ORDER_PLACED,
        t.STOCK_REJECTED,
        t.ORDER_REJECTED,
    )


def test_consumers_and_publishers_are_read_from_the_routing_tables() -> None:
    assert t.consumers(t.ORDER_CONFIRMED) == (Service.EMAIL, Service.SHIPPING)
    assert t.consumers(t.ORDER_UPDATED) == ()  # only the API's live queues bind it
    assert t.publishers(t.SHIPMENT_DISPATCHED) == (Service.SHIPPING,)
    assert t.publishers(t.STOCK_RESERVED) == (Service.INVENTORY,)


def test_the_bench_counts_seven_hand_offs_three_mails_from_two_outboxes() -> None:
    # placed -> inventory, email; reserved -> orders; confirmed -> email, shipping;
    # dispatched -> email, orders; order.updated -> no service's event queue
    assert hand_offs_per_order() == 7
    assert mails_per_order() == 3
    assert mail_sources() == (Service.ORDERS, Service.SHIPPING)


def test_the_scenario_expects_the_mails_of_each_event_of_the_order() -> None:
    confirmed = PlannedOrder("in stock", [("MUG-BLUE", 1)], "CONFIRMED")
    rejected = PlannedOrder("too many", [("POSTER-A2", 1)], "REJECTED")
    assert confirmed.expected_mails == ("order_received", "order_confirmed", "order_shipped")
    assert rejected.expected_mails == ("order_received", "order_rejected")
