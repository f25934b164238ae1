"""Celery beat for the orders service: `python -m services.orders.beat`.

It publishes the expiry task to the private queue `orders.tasks` every
`ORDERS_EXPIRY_CHECK_SECONDS`, as the orders broker user. Run exactly one.

The scheduler is celery's in-memory `Scheduler`, not the default shelve-backed one: the only
entry is a fixed interval whose job is idempotent, so a persisted "last run" buys nothing and a
state file would only be one more thing to lock, corrupt or clean up. A second beat by mistake is
harmless too: the expiry moves an order only if it is still PENDING.
"""

from __future__ import annotations

from services.orders.worker import app, settings


def main() -> None:
    app.start(
        [
            "beat",
            "--scheduler=celery.beat:Scheduler",
            f"--loglevel={settings.log.level}",
        ]
    )


if __name__ == "__main__":
    main()
