"""`python -m runner databases` (`make databases`, and compose's one-shot `databases`): create
every service's schema and seed its demo data, each through its own `manage init` (idempotent).
The services come from the registry (services/common/registry.py)."""

from __future__ import annotations

import importlib

from services.common.registry import Service


def init_databases() -> int:
    for service in Service:
        manage = importlib.import_module(f"services.{service}.manage")
        code = int(manage.main(["init"]))
        if code != 0:
            return code
    return 0
