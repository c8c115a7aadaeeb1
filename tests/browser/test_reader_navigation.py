"""A reader arriving at one entry's link, and choosing the order of the page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import expect

from tests.browser.pages import Reader
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"


@pytest.fixture
def thirty_entries(make_entry) -> list[Entry]:
    """Newest first, a minute apart: the first page shows 20, the rest need "Load more"."""
    start = timezone.now() - timedelta(minutes=1)
    return [
        make_entry(headline=f"Update {n}", published_at=start - timedelta(minutes=n))
        for n in range(30)
    ]


async def test_a_link_to_an_entry_beyond_the_first_page_loads_it_and_shows_it(
    transactional_db, thirty_entries, reader: Reader
):
    target = thirty_entries[25]

    await reader.page.goto(f"{reader.base_url}/live/{SLUG}/#entry-{target.pk}")

    card = reader.entry(target.pk)
    await expect(card).to_have_class("entry entry--highlight")
    await expect(card).to_be_in_viewport()


async def test_oldest_first_is_the_readers_choice_and_it_sticks(
    transactional_db, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.page.get_by_role("link", name="Show oldest first").click()

    oldest = [entry.pk for entry in reversed(thirty_entries)][:20]
    await expect(reader.page.locator("#stream article.entry").first).to_have_id(
        f"entry-{oldest[0]}"
    )
    await reader.open(SLUG)  # a later visit
    assert await reader.ids("#stream article.entry") == oldest
    await reader.page.get_by_role("link", name="Load later updates").click()
    await expect(reader.page.locator("#stream article.entry")).to_have_count(30)
    assert await reader.ids("#stream article.entry") == [e.pk for e in reversed(thirty_entries)]

    await reader.page.get_by_role("link", name="Show newest first").click()
    await expect(reader.page.locator("#stream article.entry").first).to_have_id(
        f"entry-{thirty_entries[0].pk}"
    )
