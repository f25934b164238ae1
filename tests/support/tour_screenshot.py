"""The README's step-2 picture, made again on a running system: the management UI's Queues tab
while the inventory worker is away and an order's event waits in `inventory.orders`.

    .venv/bin/python -m tests.support.tour_screenshot      # while `make up` runs

It does what step 2 says, on the system `.env` describes (the one `make up` runs): stops
inventory-worker (`python -m runner stop`), places one order, waits until its event is in
`inventory.orders` and the UI shows it there (the UI's figures are up to 5 s old), logs in as the
monitor login in Debian's Chromium (tests/support/chromium.py) and saves the vhost's working
queues and DLQs with their consumer counts. Then it starts the worker again and waits for the
order to confirm, so the system is left as it was found.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pika
from playwright.sync_api import Page, sync_playwright

from runner.endpoints import Endpoints
from services.common.topology import EMAIL_EVENTS_QUEUE, INVENTORY_EVENTS_QUEUE
from tests.support.chromium import CHROMIUM, LAUNCH_ARGS
from tests.support.polling import wait_until

DEFAULT_OUT = Path("docs/images/management-ui-inventory-waiting.png")
ORDER = {"customer_email": "ada@example.com", "lines": [{"sku": "MUG-BLUE", "quantity": 1}]}
# The vhost's own queues and DLQs; not Celery's event and control queues, nor the API's amq.gen-.
OWN_QUEUES = r"^(orders|inventory|email)\."
UI_SECONDS = 30  # the UI shows a queue's figures within two statistics intervals (5 s each)
# The queue table as {name: {column: text}}, read from the page as it is drawn.
READ_TABLE = """() => {
  const table = document.querySelector('table.list');
  if (!table) return {};
  const heads = [...table.querySelectorAll('thead tr:last-child th')]
    .map(th => th.textContent.trim());
  const rows = {};
  for (const tr of table.querySelectorAll('tbody tr')) {
    const cells = [...tr.querySelectorAll('td')].map(td => td.textContent.trim());
    rows[cells[heads.indexOf('Name')]] = Object.fromEntries(heads.map((h, i) => [h, cells[i]]));
  }
  return rows;
}"""


def runner(command: str, name: str) -> None:
    subprocess.run([sys.executable, "-m", "runner", command, name], check=True)


def place_order(ep: Endpoints) -> str:
    resp = httpx.post(f"{ep.api_url}/orders", json=ORDER, timeout=10)
    resp.raise_for_status()
    return str(resp.json()["id"])


def order_status(ep: Endpoints, order_id: str) -> str:
    return str(httpx.get(f"{ep.api_url}/orders/{order_id}", timeout=10).json()["status"])


def ready_in(ep: Endpoints, queue: str) -> int:
    """Ready messages, live (a passive declare as the monitor login, as the runner's probes)."""
    with closing(pika.BlockingConnection(ep.monitor_amqp())) as conn:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)


def show_queues(page: Page, ep: Endpoints) -> None:
    """Log in, open Queues, keep the vhost's own queues and add the consumer count."""
    page.goto(f"{ep.management_url}/")
    page.fill("input[name=username]", ep.monitor_user)
    page.fill("input[name=password]", ep.monitor_password)
    page.click("input[type=submit]")
    page.wait_for_selector("#main")
    page.goto(f"{ep.management_url}/#/queues")
    page.wait_for_selector("table.list")
    page.fill("#queues-name", OWN_QUEUES)
    page.press("#queues-name", "Enter")  # the page applies a filter on Enter
    page.wait_for_selector("text=filtered down to")
    page.check("#queues-filter-regex-mode")
    wait_until(lambda: only_own_queues(page), timeout=UI_SECONDS, interval=0.2)
    page.click("span.popup-options-link[for=queues]")
    page.check("#checkbox-queues-consumers")
    page.get_by_text("Close", exact=True).evaluate("close => close.click()")  # below the fold
    wait_until(lambda: has_column(page, "Consumers"), timeout=UI_SECONDS, interval=0.2)


def has_column(page: Page, name: str) -> bool:
    rows: dict[str, dict[str, Any]] = page.evaluate(READ_TABLE)
    return any(name in row for row in rows.values())


def only_own_queues(page: Page) -> bool:
    names = list(page.evaluate(READ_TABLE))
    return INVENTORY_EVENTS_QUEUE in names and all(re.match(OWN_QUEUES, n) for n in names)


def waiting_shown(page: Page) -> bool:
    """Does the UI show the order waiting in inventory.orders, and email.orders done with it?"""
    rows: dict[str, dict[str, Any]] = page.evaluate(READ_TABLE)
    inventory, email = rows.get(INVENTORY_EVENTS_QUEUE, {}), rows.get(EMAIL_EVENTS_QUEUE, {})
    waiting = inventory.get("Consumers") == "0" and inventory.get("Ready") not in (None, "0")
    return waiting and email.get("Ready") == "0"


def screenshot(ep: Endpoints, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 800})
            show_queues(page, ep)
            wait_until(lambda: waiting_shown(page), timeout=UI_SECONDS, interval=0.5)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def tour(out: Path) -> None:
    ep = Endpoints.from_settings()
    runner("stop", "inventory-worker")
    try:
        order_id = place_order(ep)
        wait_until(lambda: ready_in(ep, INVENTORY_EVENTS_QUEUE) > 0, timeout=30)
        screenshot(ep, out)
    finally:
        runner("start", "inventory-worker")
    wait_until(lambda: order_status(ep, order_id) == "CONFIRMED", timeout=60, interval=0.2)
    print(f"saved {out}: inventory.orders waiting while inventory-worker was stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.tour_screenshot")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    tour(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
