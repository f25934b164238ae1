"""Flower as `make up` runs it (the Procfile's command), against the test vhost: its web UI asks
for the monitor login, and its Broker tab gets the queue lengths from the management API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from services.common.topology import MONITOR, Service, task_queue, user_name
from tests.support.broker import TestBroker
from tests.support.inventory import WORKER_READY, inventory_worker, make_inventory_db
from tests.support.polling import wait_until
from tests.support.processes import ServiceProcess, running
from tests.support.system import free_port, procfile_commands

TASKS = task_queue(Service.INVENTORY)
Login = tuple[str, str]


def test_flowers_broker_tab_reads_the_queues_through_the_management_api(
    broker: TestBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    make_inventory_db(url).dispose()
    port = free_port()
    monitor = user_name(broker.vhost, MONITOR)
    login = (monitor, broker.passwords[monitor])
    worker = inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url})
    flower = ServiceProcess(
        "flower", procfile_commands()["flower"], tmp_path, env={"FLOWER_PORT": str(port)}
    )
    with running(worker):
        # Flower lists the queues the workers it knows consume: start it once one is up
        worker.wait_for_log(WORKER_READY, timeout=90)
        with running(flower):
            look_at_the_broker_tab(f"http://127.0.0.1:{port}", login, flower)
    assert "management API call failed" not in flower.log()


def look_at_the_broker_tab(flower_url: str, login: Login, flower: ServiceProcess) -> None:
    def task_queue_length() -> dict[str, Any] | None:
        try:
            resp = httpx.get(f"{flower_url}/api/queues/length", auth=login, timeout=5)
        except httpx.HTTPError:
            return None  # not listening yet
        queues = resp.json()["active_queues"] if resp.status_code == 200 else []
        return next((q for q in queues if q["name"] == TASKS), None)

    queue = wait_until(
        task_queue_length,
        timeout=90,
        interval=0.5,
        message=lambda: f"Flower to report {TASKS}; its log:\n{flower.log()[-3000:]}",
    )
    assert queue["messages"] == 0
    page = httpx.get(f"{flower_url}/broker", auth=login, timeout=10)
    assert page.status_code == 200
    assert TASKS in page.text
    assert "No queue data" not in page.text
    # the web UI itself stays closed to anyone without the monitor login
    assert httpx.get(f"{flower_url}/api/queues/length", timeout=5).status_code == 401
