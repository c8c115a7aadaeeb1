"""A video in an entry, in Chromium: the reader's browser asks nothing of any other host
until the reader clicks "Show content from YouTube", then frames only the provider's
privacy-enhanced player; the page's policy refuses a frame from any other host. The
provider is out of this machine's reach: its player is answered here, as Playwright sees
the request leave."""

import time
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, expect

from tests.browser.pages import Desk, Reader, within
from updates.embeds import embed_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
PLAYER = "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"


async def test_a_video_is_fetched_from_its_provider_only_after_the_readers_click(
    transactional_db, desk: Desk, reader: Reader
):
    hosts_asked: list[str] = []
    reader.page.on("request", lambda request: hosts_asked.append(urlsplit(request.url).netloc))

    async def player(route: Route) -> None:
        await route.fulfill(content_type="text/html", body="<!doctype html><p>The player")

    await reader.page.route("https://www.youtube-nocookie.com/**", player)
    await reader.open(SLUG)
    await reader.wait_until_live()
    published = time.monotonic()
    entry = await desk.publish(
        "The declaration", media=[embed_for(VIDEO, title="The returning officer")]
    )
    show = reader.entry(entry.pk).get_by_role("button", name="Show content from YouTube")
    await expect(show).to_be_visible(timeout=within(published, 2.0))
    await expect(reader.entry(entry.pk).locator(".entry__embed-link")).to_have_attribute(
        "href", VIDEO
    )
    ours = urlsplit(reader.base_url).netloc
    assert set(hosts_asked) == {ours}

    await show.click()

    frame = reader.entry(entry.pk).locator("iframe.entry__embed-frame")
    await expect(frame).to_have_attribute("src", PLAYER)
    await expect(frame).to_have_attribute("title", "Content from YouTube")
    await expect(frame.content_frame.locator("p")).to_have_text("The player")
    assert set(hosts_asked) == {ours, "www.youtube-nocookie.com"}

    # A frame from a host outside the providers' is refused by the page's policy.
    refused = await reader.page.evaluate(
        """() => new Promise((done) => {
            document.addEventListener("securitypolicyviolation",
                (event) => done([event.effectiveDirective, event.blockedURI]), {once: true});
            const frame = document.createElement("iframe");
            frame.src = "https://elsewhere.example/player";
            document.body.append(frame);
        })"""
    )
    # (Chromium reports a cross-origin blocked address by its origin only.)
    assert refused == ["frame-src", "https://elsewhere.example"]
    assert "elsewhere.example" not in hosts_asked
    assert reader.errors == []
