"""Headless Chromium for the browser tests: Debian's package (tests/support/ensure-chromium.sh,
run by `make test`), driven by Playwright with `executable_path`. Nothing downloads a browser.

Every page may talk to the system under test only: a request anywhere else is refused and
recorded, and the test fails, so a page that needs the internet (a CDN) cannot pass here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.support.chromium import CHROMIUM, LAUNCH_ARGS


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """One browser for the browser tests, closed when they are done: Playwright's sync API runs
    an event loop in this thread while it is open, and later tests that call `asyncio.run`
    would find it running."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `bash tests/support/ensure-chromium.sh`")
    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh, temporary profile of its own.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page, the requests it tried to send elsewhere, and what its console said."""

    page: Page
    outside: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Tab]:
    context: BrowserContext = chromium.new_context()
    page = context.new_page()
    tab = Tab(page)

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            tab.outside.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))
    page.set_default_timeout(30_000)
    yield tab
    context.close()
    assert not tab.outside, f"the page tried to reach the internet: {tab.outside}"
