"""The Celery ceiling: a no-op task in a worker configured exactly like ours.

    python -m bench.noop_worker

The app comes from `create_worker_app` (the same pool, concurrency, prefetch, acks_late,
confirms and task events as every shopflow worker), logs in as the inventory user and drains the
private queue `inventory.tasks`, started with the same `worker_argv`. The bench fills that queue
with `bench.noop` task messages while no other worker runs. Importing connects to nothing.
"""

from __future__ import annotations

from bench.messages import NOOP_TASK
from services.common.topology import Service
from services.common.worker.app import create_worker_app, worker_argv
from services.inventory.settings import Settings

settings = Settings()
app = create_worker_app(Service.INVENTORY, settings)


@app.task(name=NOOP_TASK)
def noop() -> None:
    return None


def main() -> None:
    import os

    argv = worker_argv(Service.INVENTORY, settings)
    if os.environ.get("BENCH_VARIANT") == "noevents":
        app.conf.worker_send_task_events = False
        argv.remove("--task-events")
    app.worker_main(argv)


if __name__ == "__main__":
    main()
