"""Times on the live page: the site's own zone, labelled, for readers without JavaScript
and search engines; the reader's own zone once the page's script runs."""

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import DESKTOP, SLUG
from updates.models import Entry

pytestmark = pytest.mark.browser

# Summer in London (BST, UTC+1); in Tokyo, where the reader is, 06:05 the next morning.
POSTED = datetime(2026, 7, 2, 21, 5, tzinfo=UTC)


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"TIME_ZONE": "Europe/London"}


@pytest.fixture
def entry(make_entry) -> Entry:
    return make_entry(headline="Turnout 46.2%", key_event=True, published_at=POSTED)


async def test_a_reader_sees_the_sites_zone_without_javascript_and_their_own_with_it(
    browser: Browser, reader_server, entry: Entry
):
    url = f"{reader_server.url}/live/{SLUG}/"
    without_script = await browser.new_context(
        **DESKTOP, timezone_id="Asia/Tokyo", java_script_enabled=False
    )
    page = await without_script.new_page()
    await page.goto(url)
    await expect(page.locator(f"#entry-{entry.pk} .entry__time time")).to_have_text("22:05 BST")
    await expect(page.locator(f'#key-events-list li[data-id="{entry.pk}"] time')).to_have_text(
        "22:05 BST"
    )

    in_tokyo = await browser.new_context(**DESKTOP, timezone_id="Asia/Tokyo")
    page = await in_tokyo.new_page()
    await page.goto(url)
    key_event_time = page.locator(f'#key-events-list li[data-id="{entry.pk}"] time')
    await expect(key_event_time).to_have_text("3 Jul, 06:05")
    card_time = page.locator(f"#entry-{entry.pk} .entry__time time")
    await expect(card_time).to_have_attribute("title", re.compile(r"06:05:00 (GMT\+9|JST)"))
