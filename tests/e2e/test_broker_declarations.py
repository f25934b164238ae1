"""What RabbitMQ 4.3 denies by default, checked on the live broker: every process of the system
(every service's worker and relay, beat, the API and Flower) runs against a vhost of quorum
queues while an order goes through and Flower asks the workers for their state, and then the
management API shows every queue and channel in the vhost:

- `transient_nonexcl_queues`: every queue that is not durable must be exclusive (Celery's pidbox
  and reply queues, Flower's event queue); our own queues are all durable, declared by the tool;
- `global_qos`: no channel may have a global prefetch.

RabbitMQ 3.10 allows both, so the test looks instead of waiting for a refusal. (On 3.x with
classic queues Celery does ask for a global prefetch, which 3.x supports; on RabbitMQ 4 kombu
never does: tests/unit/test_rabbitmq4_compat.py.) RabbitMQ 4's management API no longer reports
a channel's global prefetch (a 4.x node denying global QoS turns a request for one into a
per-consumer prefetch and logs it), so there only the queues are looked at; `make test` runs
this file on both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from services.common.registry import PROCESSES, Kind
from services.common.topology import FLOWER, MONITOR, Service, user_name
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.quorum import QuorumVhost
from tests.support.system import DEFAULT_PROCESSES, running_system

EVERY_LOGIN = {*Service, FLOWER}
WORKERS = len([p for p in PROCESSES if p.kind is Kind.WORKER])


def queues_of(vhost: QuorumVhost) -> list[dict[str, Any]]:
    with vhost.broker.management() as api:
        found: list[dict[str, Any]] = api.get(api.path("queues", vhost.broker.vhost)) or []
    return found


def channels_of(vhost: QuorumVhost) -> list[dict[str, Any]]:
    with vhost.broker.management() as api:
        path = api.path("vhosts", vhost.broker.vhost, "channels")
        found: list[dict[str, Any]] = api.get(path) or []
    return found


def test_no_transient_queue_is_shared_and_no_channel_has_a_global_prefetch(
    quorum_vhost: QuorumVhost, tmp_path: Path
) -> None:
    b = quorum_vhost.broker
    flower_port = free_port()
    env = {**quorum_vhost.env, "FLOWER_PORT": str(flower_port)}
    with running_system(tmp_path, (*DEFAULT_PROCESSES, "flower"), extra_env=env) as system:
        line = {"sku": "MUG-BLUE", "quantity": 1}
        body = {"customer_email": "ada@example.com", "lines": [line]}
        placed = httpx.post(f"{system.api_url}/orders", json=body, timeout=10)
        assert placed.status_code == 202, placed.text
        order_url = f"{system.api_url}/orders/{placed.json()['id']}"
        wait_until(
            lambda: httpx.get(order_url, timeout=10).json()["status"] == "CONFIRMED",
            timeout=90,
            message="the order confirmed: every worker and relay has run",
        )
        monitor = (user_name(b.vhost, MONITOR), b.passwords[user_name(b.vhost, MONITOR)])

        def flower_sees_workers() -> bool:
            try:  # refresh: Flower broadcasts an inspect and reads the replies
                resp = httpx.get(
                    f"http://127.0.0.1:{flower_port}/api/workers?refresh=1",
                    auth=monitor,
                    timeout=20,
                )
            except httpx.HTTPError:
                return False
            return resp.status_code == 200 and len(resp.json()) == WORKERS

        answered = f"Flower's answer from {WORKERS} workers"
        wait_until(flower_sees_workers, timeout=90, message=answered)

        logins = {user_name(b.vhost, who) for who in EVERY_LOGIN}
        with b.management() as api:
            reports_global = api.rabbitmq_version() < (4, 0)
        statistic = "global_prefetch_count" if reports_global else "prefetch_count"

        def every_channel_with_its_statistics() -> list[dict[str, Any]] | None:
            # A channel's prefetch figures come with its first statistics event, a moment after
            # it shows up: a missing key must not read as "no global prefetch".
            found = channels_of(quorum_vhost)
            counted = all(statistic in c for c in found)
            return found if counted and logins <= {c["user"] for c in found} else None

        channels = wait_until(
            every_channel_with_its_statistics,
            timeout=30,
            message="every login's channels, with their statistics, in the management API",
        )
        queues = queues_of(quorum_vhost)

    transient = [q for q in queues if not q["durable"]]
    assert len([q for q in transient if q["name"].endswith(".celery.pidbox")]) >= WORKERS
    assert any(q["name"].startswith("celeryev.") for q in transient)  # Flower's event queue
    shared = [q["name"] for q in transient if not q["exclusive"]]
    assert shared == [], "transient queues that are not exclusive (denied by RabbitMQ 4.3)"
    if reports_global:
        prefetching = [(c["user"], c["name"]) for c in channels if c["global_prefetch_count"]]
        assert prefetching == [], "channels with a global prefetch (denied by RabbitMQ 4.3)"
    declared = {q.name for q in b.topology.queues} | {s.name for s in b.topology.streams}
    assert {q["name"] for q in queues if q["durable"]} == declared
