"""`python -m broker.provision apply|check|show`: see `broker.provision.cli`."""

from __future__ import annotations

import sys

from broker.provision.cli import main

if __name__ == "__main__":
    sys.exit(main())
