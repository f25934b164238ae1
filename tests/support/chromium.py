"""Debian's Chromium, driven by Playwright with `executable_path`: nothing downloads a browser.

`make test` installs the `chromium` package when it is missing (tests/support/ensure-chromium.sh);
SHOPFLOW_CHROMIUM names another binary. Used by the browser tests and the docs' screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("SHOPFLOW_CHROMIUM", "/usr/bin/chromium"))
# Headless in a container, and quiet: without the background-networking flags Chromium keeps
# trying to reach Google's servers (updates, sync, field trials).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
