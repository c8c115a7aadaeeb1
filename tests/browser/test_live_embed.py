"""Another site embeds an event with the desk's one-line snippet, in Chromium: the page
around it is served from another origin (another port), the frame shows the event's
updates live, grows to fit each new one, and opens its links in a new tab. Only the
embed may be framed, and only by the origins EMBED_ALLOWED_ORIGINS names: the same host
page framing the live page itself, or another origin framing the embed, is refused by
the browser."""

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import RequestFactory
from playwright.async_api import Browser, Frame, Page, expect

from tests.browser.pages import DESKTOP, EVENT_TITLE, SLUG, Reader, within
from tests.browser.test_newsroom_desk import LIVE_SECONDS
from tests.servers import DaphneServer, free_port, serving
from updates.desk import embed_snippet
from updates.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@dataclass
class HostSite:
    """Another site's pages, on their own port: {path: html}."""

    port: int
    pages: dict[str, str] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite(free_port())

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = site.pages.get(self.path)
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((page or "not found").encode())

        def log_message(self, *args) -> None:
            pass

    with serving(ThreadingHTTPServer(("127.0.0.1", site.port), Pages)):
        yield site


@pytest.fixture
def daphne_settings(host_site) -> dict[str, str]:
    # The host site as 127.0.0.1 only: the same pages asked as localhost are another origin.
    return {"EMBED_ALLOWED_ORIGINS": host_site.url("")}


def snippet_for(event: Event, server: DaphneServer, settings) -> str:
    """The line the desk shows journalists, as it would on the server's address."""
    host = server.url.removeprefix("http://")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host.partition(":")[0]]
    return embed_snippet(RequestFactory().get("/", HTTP_HOST=host), event)


def article(body: str) -> str:
    return f"<!doctype html><title>Our article</title><h1>The by-election</h1>{body}<p>After.</p>"


def child_frame(page: Page) -> Frame:
    (frame,) = page.main_frame.child_frames
    return frame


async def frame_height(page: Page) -> float:
    return await page.locator("iframe").evaluate("frame => frame.getBoundingClientRect().height")


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.05)


async def frame_grows(page: Page, beyond: float) -> None:
    await page.wait_for_function(
        "beyond => document.querySelector('iframe').getBoundingClientRect().height > beyond",
        arg=beyond,
    )


async def test_a_site_embeds_the_event_with_the_snippet_live_and_sized_to_fit(
    transactional_db, event, desk, browser: Browser, reader_server, host_site, settings
):
    host_site.pages["/article.html"] = article(snippet_for(event, reader_server, settings))
    context = await browser.new_context(**DESKTOP)
    # The reader of the host's article; the embed's websocket is one of its page's.
    visitor = Reader(await context.new_page(), host_site.url(""))
    await visitor.page.goto(host_site.url("/article.html"))
    embed = visitor.page.frame_locator("iframe.liveblog-embed")
    await expect(embed.locator("#event-title")).to_have_text(EVENT_TITLE)
    await visitor.wait_until_live()
    # Sized to the embed's content (its header and "No updates yet"), not the snippet's
    # first guess of a screen.
    await visitor.page.wait_for_function(
        "() => document.querySelector('iframe').getBoundingClientRect().height < 600"
    )
    empty_height = await frame_height(visitor.page)

    posted = time.monotonic()
    await desk.publish(
        "Recount ordered in Harbourside",
        body="<p>The returning officer has ordered a full recount.</p>" * 4,
    )

    card = embed.locator("article.entry", has_text="Recount ordered in Harbourside")
    await expect(card).to_be_visible(timeout=within(posted, LIVE_SECONDS))
    await frame_grows(visitor.page, beyond=empty_height + 100)
    # The whole embed shows, with nothing to scroll inside the frame.
    inside = await child_frame(visitor.page).evaluate(
        "() => [document.documentElement.scrollHeight, innerHeight]"
    )
    assert inside[0] <= inside[1] + 1, inside
    # A permalink opens the full page in a new tab; the article stays where it was.
    async with context.expect_page() as opened:
        await card.locator("a.entry__time, a[href*='/entries/']").first.click()
    permalink = await opened.value
    await permalink.wait_for_load_state()
    assert permalink.url.startswith(f"{reader_server.url}/live/{SLUG}/entries/")
    assert visitor.page.url == host_site.url("/article.html")
    assert visitor.errors == []


async def test_only_the_embed_may_be_framed_and_only_by_the_origins_allowed(
    transactional_db, event, browser: Browser, reader_server, host_site
):
    frame_of = '<iframe src="{}" title="framed" width="600" height="400"></iframe>'
    host_site.pages["/embed.html"] = article(
        frame_of.format(f"{reader_server.url}/live/{SLUG}/embed/")
    )
    host_site.pages["/live.html"] = article(frame_of.format(f"{reader_server.url}/live/{SLUG}/"))
    page = await (await browser.new_context(**DESKTOP)).new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))

    await page.goto(host_site.url("/embed.html"))
    await expect(page.frame_locator("iframe").locator("#event-title")).to_have_text(EVENT_TITLE)

    for url in (
        host_site.url("/live.html"),  # the live page itself, from an allowed origin
        host_site.url("/embed.html", host="localhost"),  # the embed, from another origin
    ):
        refusals.clear()
        await page.goto(url)
        await until(lambda: child_frame(page).url.startswith("chrome-error://"), f"{url} refused")
        await until(lambda: any("frame-ancestors" in text for text in refusals), "the reason told")
