"""A stream of orders over HTTP, as real clients would send them, while faults happen.

Every order carries its own Idempotency-Key, and a client that gets no answer (the API was killed,
the connection was reset, a 5xx) sends the same request again with the same key until it gets
its 202, exactly as docs/orders.md tells clients to. So "accepted" means the API answered 202,
and a retry can never create a second order.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.support.polling import wait_until

CONFIRMED = "CONFIRMED"
REJECTED = "REJECTED"


@dataclass
class PlacedOrder:
    number: int
    lines: list[tuple[str, int]]
    expected_status: str
    email: str
    idempotency_key: str = field(default_factory=lambda: f"reliability-{uuid.uuid4()}")
    order_id: str | None = None
    attempts: int = 0
    error: str | None = None

    def body(self) -> dict[str, object]:
        return {
            "customer_email": self.email,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in self.lines],
        }


def plan_orders(
    count: int, *, seed: int, plenty: Sequence[str], sold_out: str, run: str
) -> list[PlacedOrder]:
    """`count` orders: four in five only use SKUs with plenty of stock (they must be confirmed),
    one in five also asks for the sold-out SKU (all-or-nothing: they must be rejected)."""
    rng = random.Random(seed)
    orders = []
    for n in range(count):
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(list(plenty), k=rng.randint(1, 2))]
        rejected = n % 5 == 4
        if rejected:
            lines.append((sold_out, 1))
        orders.append(
            PlacedOrder(
                number=n,
                lines=lines,
                expected_status=REJECTED if rejected else CONFIRMED,
                email=f"o{n}-{run}@example.com",
            )
        )
    return orders


class OrderStream:
    """Posts the planned orders from `clients` threads at about `rate` orders per second."""

    def __init__(
        self,
        api_url: str,
        orders: list[PlacedOrder],
        *,
        rate: float = 40.0,
        clients: int = 4,
        give_up_after: float = 180.0,
    ) -> None:
        self.api_url = api_url
        self.orders = orders
        self.rate = rate
        self.clients = clients
        self.give_up_after = give_up_after
        self._next = 0
        self._lock = threading.Lock()
        self._started = 0.0
        self._pool: ThreadPoolExecutor | None = None
        self._accepted = 0
        self._held_from: int | None = None  # orders numbered from here on wait for release()
        self._released = threading.Condition(self._lock)

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._accepted

    def start(self) -> OrderStream:
        self._started = time.monotonic()
        self._pool = ThreadPoolExecutor(self.clients, thread_name_prefix="order-client")
        for _ in range(self.clients):
            self._pool.submit(self._client)
        return self

    def wait_accepted(self, n: int, timeout: float = 120.0) -> None:
        """Block until at least `n` orders got their 202 (the point where a fault goes in)."""
        wait_until(
            lambda: self.accepted >= min(n, len(self.orders)),
            timeout=timeout,
            interval=0.01,
            message=lambda: f"{n} orders accepted (so far {self.accepted})",
        )

    def hold_from(self, number: int | None) -> None:
        """Orders numbered `number` and later wait until `release()` (or a later hold): a fault
        that takes seconds to put in cannot find the stream already over. None releases."""
        with self._lock:
            self._held_from = number
            self._released.notify_all()

    def release(self) -> None:
        self.hold_from(None)

    def join(self) -> list[PlacedOrder]:
        assert self._pool is not None, "start() first"
        self._pool.shutdown(wait=True)
        return self.orders

    def _take(self) -> PlacedOrder | None:
        with self._lock:
            while self._held_from is not None and self._next >= self._held_from:
                self._released.wait()  # woken by hold_from/release, not a timer
            if self._next >= len(self.orders):
                return None
            order = self.orders[self._next]
            self._next += 1
            due = self._started + order.number / self.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing the load, not waiting for a condition
        return order

    def _client(self) -> None:
        with httpx.Client(base_url=self.api_url, timeout=10) as http:
            while (order := self._take()) is not None:
                self._place(http, order)

    def _place(self, http: httpx.Client, order: PlacedOrder) -> None:
        deadline = time.monotonic() + self.give_up_after
        while time.monotonic() < deadline:
            order.attempts += 1
            try:
                resp = http.post(
                    "/orders",
                    json=order.body(),
                    headers={"Idempotency-Key": order.idempotency_key},
                )
            except httpx.HTTPError as exc:
                order.error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)  # the API is down or restarting: retry with the same key
                continue
            if resp.status_code == 202:
                order.order_id = str(resp.json()["id"])
                order.error = None
                with self._lock:
                    self._accepted += 1
                return
            order.error = f"HTTP {resp.status_code}: {resp.text[:300]}"
            if resp.status_code < 500:
                return  # a 4xx is the client's fault: retrying would not help
            time.sleep(0.1)
