"""`python -m broker.provision apply|check|show`: see `broker.provision.cli`."""

from __future__ import annotations

from broker.provision.cli import main
from services.common.cli import run_cli

if __name__ == "__main__":
    run_cli(main)
