"""The storefront in a real browser, against the whole system as processes (the Procfile's).

An order placed through the form on `/` is followed on its page, which changes without a reload
(the test marks the document, and the mark is still there at the end) as the order moves: to
CONFIRMED, to REJECTED for a sold-out SKU, to CONFIRMED on a page opened while the order was
still pending (the steps arrive on the stream the page already had open), and to its final
status after the API was restarted while the order was pending, with every step shown exactly
once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import Tab
from tests.support.broker import TestBroker
from tests.support.polling import wait_until
from tests.support.system import System, running_system

ORDER_PAGE = re.compile(r"/orders/[0-9a-f-]{36}$")
DECIDED = 60_000  # ms: inventory answers within a second or two; generous for a busy machine
# shipping ships a confirmed order, and orders pushes the step into the open page (order.updated)
SHIPPED = re.compile(r"^shipment dispatched: [\w ]+, tracking number [A-Z0-9]+$")


@pytest.fixture(scope="module")
def system(test_broker: TestBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("storefront")) as running:
        yield running


def place_through_the_form(page: Page, system: System, sku: str, quantity: int) -> str:
    """Open the catalogue, order `quantity` of `sku`, and land on the order's page: its id."""
    page.goto(f"{system.api_url}/")
    page.locator(f'input[data-sku="{sku}"]').fill(str(quantity))
    page.locator("#customer-email").fill("grace@example.org")
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(ORDER_PAGE)
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    return page.url.rsplit("/", 1)[1]


def steps(page: Page) -> list[str]:
    return page.locator("#timeline li span").all_inner_texts()


def still_the_same_document(page: Page) -> bool:
    return page.evaluate("window.sameDocument === true") is True


def test_an_order_placed_through_the_form_turns_confirmed_on_its_page(
    tab: Tab, system: System
) -> None:
    page = tab.page
    place_through_the_form(page, system, "MUG-BLUE", 2)
    expect(page.locator("#status")).to_have_text("CONFIRMED", timeout=DECIDED)
    expect(page.locator("#timeline li span")).to_have_text(
        ["order accepted", "stock reserved: MUG-BLUE x2", "order confirmed", SHIPPED],
        timeout=DECIDED,
    )
    expect(page.locator("#order-total")).to_have_text("17.00 EUR")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    assert still_the_same_document(page)


def test_an_order_for_a_sold_out_sku_turns_rejected(tab: Tab, system: System) -> None:
    page = tab.page
    place_through_the_form(page, system, "POSTER-A2", 1)  # the demo stock has none
    expect(page.locator("#status")).to_have_text("REJECTED", timeout=DECIDED)
    expect(page.locator("#timeline li span")).to_have_text(
        [
            "order accepted",
            "stock rejected, out of stock: POSTER-A2 (requested 1, available 0)",
            "order rejected",
        ]
    )
    assert still_the_same_document(page)


def test_an_open_page_shows_the_steps_of_an_order_decided_after_it_opened(
    tab: Tab, system: System
) -> None:
    page = tab.page
    streams: list[str] = []

    def opened(request: Request) -> None:
        if request.resource_type == "eventsource":
            streams.append(request.url)

    page.on("request", opened)
    system.procs["inventory-worker"].stop()  # nobody answers: the order stays PENDING
    try:
        place_through_the_form(page, system, "TEE-M", 1)
        expect(page.locator("#status")).to_have_text("PENDING")
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        expect(page.locator("#timeline li span")).to_have_text(["order accepted"])
    finally:
        system.restart("inventory-worker")

    expect(page.locator("#status")).to_have_text("CONFIRMED", timeout=DECIDED)
    expect(page.locator("#timeline li span")).to_have_text(
        ["order accepted", "stock reserved: TEE-M x1", "order confirmed", SHIPPED],
        timeout=DECIDED,
    )
    assert still_the_same_document(page)
    assert len(streams) == 1, streams  # every step came down the stream open since PENDING


def order_status(system: System, order_id: str) -> str | None:
    engine = create_engine(system.db_url("orders"))
    try:
        with engine.connect() as conn:
            query = text("SELECT status FROM orders WHERE id = :id")
            return conn.execute(query, {"id": order_id}).scalar_one_or_none()
    finally:
        engine.dispose()


def test_the_page_reconnects_after_an_api_restart_and_shows_the_final_status(
    tab: Tab, system: System, tmp_path: Path
) -> None:
    page = tab.page
    system.procs["inventory-worker"].stop()  # nobody answers: the order stays PENDING
    order_id = place_through_the_form(page, system, "MUG-RED", 1)
    expect(page.locator("#status")).to_have_text("PENDING")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")

    system.procs["orders-api"].stop()
    expect(page.locator("#live")).to_have_attribute("data-state", "reconnecting")
    system.restart("inventory-worker")  # the order is decided while the API is down
    wait_until(lambda: order_status(system, order_id) == "CONFIRMED", timeout=60)
    system.restart("orders-api")

    expect(page.locator("#status")).to_have_text("CONFIRMED", timeout=DECIDED)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#timeline li span")).to_have_text(
        ["order accepted", "stock reserved: MUG-RED x1", "order confirmed", SHIPPED],
        timeout=DECIDED,
    )
    positions = page.locator("#timeline li").evaluate_all(
        "items => items.map(i => Number(i.dataset.position))"
    )
    assert positions == sorted(set(positions)), positions  # increasing: no repeats
    assert still_the_same_document(page)
