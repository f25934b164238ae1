"""Flower as `make up` runs it (the Procfile's command, started with the workers, so before
they listen), against the test vhost: its web UI asks for the monitor login, and its Broker tab
gets the task queues' lengths from the management API: every service's (the registry's), before
it has heard from any worker and after, whichever workers it knows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from services.common.topology import MONITOR, Service, task_queue, user_name
from tests.support.broker import TestBroker
from tests.support.inventory import WORKER_READY, inventory_worker, make_inventory_db
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, running
from tests.support.system import procfile_commands

TASK_QUEUES = {task_queue(service) for service in Service}
Login = tuple[str, str]


def test_flowers_broker_tab_shows_the_task_queues(broker: TestBroker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/inventory.db"
    make_inventory_db(url).dispose()
    port = free_port()
    flower_url = f"http://127.0.0.1:{port}"
    monitor = user_name(broker.vhost, MONITOR)
    login = (monitor, broker.passwords[monitor])
    flower = ServiceProcess(
        "flower", procfile_commands()["flower"], tmp_path, env={"FLOWER_PORT": str(port)}
    )
    worker = inventory_worker(tmp_path, {"INVENTORY_DATABASE_URL": url})
    with running(flower):
        # Flower asks for the workers' queues at its start; under `make up` none listens yet
        listed(flower_url, login, flower, TASK_QUEUES)
        assert_broker_tab_lists(flower_url, login, TASK_QUEUES)

        # once it knows a worker's own queues (Workers page, Refresh; or the workers that
        # answered at its start) it still lists every service's
        with running(worker):
            worker.wait_for_log(WORKER_READY, timeout=90)
            workers: dict[str, Any] = wait_until(
                lambda: httpx.get(f"{flower_url}/api/workers?refresh=1", auth=login).json(),
                timeout=60,
                interval=1,
                message="Flower to hear from the worker",
            )
            [known] = workers.values()
            assert [q["name"] for q in known["active_queues"]] == [task_queue(Service.INVENTORY)]
            assert queue_names(flower_url, login) == TASK_QUEUES
            assert_broker_tab_lists(flower_url, login, TASK_QUEUES)

        # the web UI itself stays closed to anyone without the monitor login
        assert httpx.get(f"{flower_url}/api/queues/length", timeout=5).status_code == 401
    assert "management API call failed" not in flower.log()


def queue_names(flower_url: str, login: Login) -> set[str]:
    """The queues Flower's /api/queues/length lists."""
    resp = httpx.get(f"{flower_url}/api/queues/length", auth=login, timeout=5)
    resp.raise_for_status()
    return {q["name"] for q in resp.json()["active_queues"]}


def assert_broker_tab_lists(flower_url: str, login: Login, wanted: set[str]) -> None:
    page = httpx.get(f"{flower_url}/broker", auth=login, timeout=10)
    assert page.status_code == 200
    assert "No queue data" not in page.text
    assert {queue for queue in wanted if queue not in page.text} == set()


def listed(flower_url: str, login: Login, flower: ServiceProcess, wanted: set[str]) -> None:
    """Poll Flower's /api/queues/length until it lists exactly the queues `wanted`."""

    seen: list[set[str]] = [set()]

    def names() -> bool:
        try:
            resp = httpx.get(f"{flower_url}/api/queues/length", auth=login, timeout=5)
        except httpx.HTTPError:
            return False  # not listening yet
        queues: list[dict[str, Any]] = resp.json()["active_queues"] if resp.is_success else []
        seen.append({q["name"] for q in queues})
        return seen[-1] == wanted

    wait_until(
        names,
        timeout=90,
        interval=0.5,
        message=lambda: (
            f"Flower to list {sorted(wanted)}, not {sorted(seen[-1])}; its log:\n"
            f"{flower.log()[-3000:]}"
        ),
    )
