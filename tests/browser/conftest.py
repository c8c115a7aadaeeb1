"""End-to-end fixtures: Chromium driving pages served by real Daphne processes.

Every test gets its own Daphne processes (tests/servers.py, fixtures in
tests/conftest.py), started on free ports after pytest-django has made the test
database, with the same database and Redis as this process. The reader's page talks
to one process and the newsroom's admin to another, so a change saved in the admin can
only reach the reader through Redis. Daphne sees only committed data: the tests use
transactional_db.

Playwright's async API runs in pytest-asyncio's loop, next to the other async tests.
With LIVEBLOG_SCREENSHOTS naming a directory, tests save screenshots of the live page
there (desktop and phone).
"""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.async_api import Browser, async_playwright, expect

from bench.lighthouse_cli import CHROMIUM, CHROMIUM_ARGS
from liveblog.backends import channel_layers
from tests.browser.pages import DESKTOP, PHONE, Desk, Newsroom, Reader
from tests.servers import DaphneServer
from updates.models import Entry

# No wait in these tests is open-ended: expect() gives up after 5 s unless told otherwise.
expect.set_options(timeout=5_000)


@pytest.fixture
def desk(event, journalist, settings, redis_url: str) -> Desk:
    """The newsroom's writes from the test itself. This process publishes through the
    Daphne processes' Redis, as their own writes do, so every reader hears of them."""
    settings.CHANNEL_LAYERS = channel_layers(redis_url)
    return Desk(event, journalist)


# Chromium ----------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=20_000
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def reader(browser: Browser, reader_server: DaphneServer) -> Reader:
    """A reader's browser (its own context), pointed at the reader's Daphne."""
    context = await browser.new_context(**DESKTOP)
    return Reader(await context.new_page(), reader_server.url)


@pytest.fixture
async def restartable_reader(browser: Browser, restartable_reader_server) -> Reader:
    """A reader's browser pointed at the Daphne the test may restart."""
    context = await browser.new_context(**DESKTOP)
    return Reader(await context.new_page(), restartable_reader_server.url)


@pytest.fixture
async def newsroom(browser: Browser, newsroom_server: DaphneServer) -> Newsroom:
    """A journalist's browser, not yet logged in, pointed at the newsroom's Daphne."""
    context = await browser.new_context(**DESKTOP)
    return Newsroom(await context.new_page(), newsroom_server.url)


@pytest.fixture
def screenshots(browser: Browser) -> Callable[[str, str], Awaitable[None]]:
    """capture(url, name): with LIVEBLOG_SCREENSHOTS set, saves name-desktop.png and
    name-phone.png of the page at url in that directory; otherwise does nothing."""
    directory = os.environ.get("LIVEBLOG_SCREENSHOTS")

    async def capture(url: str, name: str) -> None:
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        for label, options in {"desktop": DESKTOP, "phone": PHONE}.items():
            context = await browser.new_context(**options)
            try:
                page = await context.new_page()
                await page.goto(url)
                # Finished animations: cards as they settle, not mid-flash.
                await page.screenshot(
                    path=Path(directory) / f"{name}-{label}.png", animations="disabled"
                )
            finally:
                await context.close()

    return capture


@pytest.fixture
def earlier_entry(make_entry) -> Entry:
    # Well before the admin's prefilled time, which is to the second: new entries go on top.
    return make_entry(
        headline="Polls are open",
        body="<p>Queues at St Brendan's.</p>",
        published_at=timezone.now() - timedelta(minutes=10),
    )
