"""The Content-Security-Policy in Chromium, through real Daphne processes: a journalist's
whole round (log in, the desk, typing in the rich-text editor, preview, post) and a
reader's (the update arriving over the websocket, "Load more") run without one thing
refused, and every response Daphne sends carries the policy and the other headers.

Refusals are collected two ways, from the first page load on: a securitypolicyviolation
listener in every document the pages open, reporting to this test, and the console's
errors (Chromium logs each refusal there too, for frames the listener cannot run in, such
as the sandboxed preview).
"""

import asyncio
import base64
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import ConsoleMessage, Page, Response, Route, expect

from tests.browser.pages import Desk, Newsroom, Reader
from updates.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
PASSWORD = "correct horse battery"
LIVE_SECONDS = 2.0
# An image from another site over https, as a journalist may put in a body (the
# sanitiser keeps it): Chromium's request is answered by the test, not the network.
PHOTO_URL = "https://images.example.org/count.png"
OLDER_ENTRIES = 25  # more than the live page's first page of 20
ONE_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    window.__reportViolation({
        page: document.location.href,
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        source: event.sourceFile + ":" + event.lineNumber,
        sample: event.sample,
    });
});
"""

OTHER_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


class Watched:
    """A tab's policy violations, console errors and responses from our servers."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.violations: list[dict] = []
        self.console_errors: list[str] = []
        self.responses: list[Response] = []
        page.on("console", self._console)
        page.on("response", self._response)

    async def start(self) -> None:
        """Before the first page load: every document from then on reports here."""
        await self.page.expose_function("__reportViolation", self._violation)
        await self.page.add_init_script(REPORT_VIOLATIONS)

    def _violation(self, violation: dict) -> None:
        self.violations.append(violation)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location})")

    def _response(self, response: Response) -> None:
        if response.url.startswith(self.base_url):
            self.responses.append(response)

    async def assert_nothing_refused(self) -> None:
        assert self.violations == []
        assert self.console_errors == []

    async def assert_headers_on_every_response(self) -> set[str]:
        """Checks every response Daphne sent this tab; returns their resource types."""
        kinds = set()
        for response in self.responses:
            headers = await response.all_headers()
            what = f"{response.request.resource_type} {response.url}"
            policy = headers.get("content-security-policy", "")
            assert "default-src 'self'" in policy, what
            assert "frame-ancestors 'none'" in policy, what
            for header, value in OTHER_HEADERS.items():
                assert headers.get(header) == value, (what, header)
            # Static files leave before XFrameOptionsMiddleware; frame-ancestors covers them.
            if response.request.resource_type in ("document", "fetch", "xhr"):
                assert headers.get("x-frame-options") == "DENY", what
            kinds.add(response.request.resource_type)
        return kinds


def policy_directives(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.fixture
async def older_entries(desk: Desk) -> None:
    """More than a page: "Load more" has something to fetch. The newest holds a photo."""
    start = timezone.now() - timedelta(hours=1)
    for number in range(OLDER_ENTRIES - 1):
        await desk.publish(
            f"Ward {number} declared",
            f"<p>Ward {number} has declared.</p>",
            published_at=start + timedelta(minutes=number),
        )
    await desk.publish(
        "The count, from the gallery",
        f'<p>The count at the leisure centre.</p><img src="{PHOTO_URL}" alt="Counting">',
        published_at=start + timedelta(minutes=30),
    )


async def answer_photo(route: Route) -> None:
    await route.fulfill(status=200, content_type="image/png", body=ONE_PIXEL_PNG)


async def test_nothing_is_refused_while_the_newsroom_posts_and_a_reader_follows(
    transactional_db,
    event: Event,
    journalist,
    older_entries,
    reader: Reader,
    newsroom: Newsroom,
):
    reading = Watched(reader.page, reader.base_url)
    writing = Watched(newsroom.page, newsroom.base_url)
    await reading.start()
    await writing.start()
    await reader.page.route(PHOTO_URL, answer_photo)

    # The reader's page: its scripts run and its websocket connects under the policy.
    await reader.open(SLUG)
    await reader.wait_until_live()
    photo = reader.page.locator("article.entry img[alt=Counting]")
    await expect(photo).to_be_visible()
    await reader.page.wait_for_function(
        "img => img.complete && img.naturalWidth === 1", arg=await photo.element_handle()
    )

    # The journalist: the admin's login, the desk, the rich-text editor.
    await newsroom.log_in("sam", PASSWORD)
    page = newsroom.page
    await page.goto(f"{newsroom.base_url}/admin/updates/event/{event.pk}/desk/")
    # The headline's touch brings the editor (static/desk.js puts its scripts in the page).
    await page.locator("#id_headline").fill("Recount called in Eastgate")
    editor = page.locator("#post-form .ProseMirror[contenteditable=true]")
    await expect(editor).to_be_visible()
    # The editor's own <style>, allowed by its hash, is in and applied.
    await expect(page.locator("head style[data-tiptap-style]")).to_have_count(1)
    await expect(editor).to_have_css("white-space", "break-spaces")
    await editor.click()
    await page.keyboard.type("The margin was ")
    await page.keyboard.press("Control+b")
    await page.keyboard.type("12 votes")
    await page.keyboard.press("Control+b")
    await page.keyboard.type(".")

    # The preview: a sandboxed srcdoc frame with the live page's stylesheet.
    await page.get_by_role("button", name="Preview", exact=True).click()
    card = page.frame_locator("#preview").locator("article.entry")
    await expect(card.locator(".entry__body strong")).to_have_text("12 votes")
    await expect(card).to_have_css("border-top-width", "2px")

    # Posted: on the reader's page over the websocket, with no reload.
    await page.locator("#post-button").click()
    await expect(page.locator(".messagelist .success")).to_have_text(
        "Published: Recount called in Eastgate"
    )
    posted = reader.page.locator("#stream article.entry", has_text="Recount called in Eastgate")
    await expect(posted).to_be_visible(timeout=LIVE_SECONDS * 1000)
    await expect(posted.locator(".entry__body strong")).to_have_text("12 votes")
    assert [frame["entry"]["headline"] for frame in reader.frames_of("entry.created")] == [
        "Recount called in Eastgate"
    ]

    # "Load more": the older entries through the JSON API.
    await reader.page.locator("#load-more").click()
    await expect(reader.page.locator("#stream article.entry")).to_have_count(OLDER_ENTRIES + 1)
    await expect(reader.page.locator("#load-more")).to_be_hidden()

    # A refusal is reported a moment after it happens: let any late one arrive.
    await asyncio.sleep(0.5)
    await reading.assert_nothing_refused()
    await writing.assert_nothing_refused()
    assert reader.errors == []

    # What Daphne sent: the policy and the other headers on every response, pages, API
    # and static files alike; the websocket connected under connect-src 'self' alone.
    assert {"document", "fetch", "script", "stylesheet"} <= (
        await reading.assert_headers_on_every_response()
    )
    assert {"document", "fetch", "script", "stylesheet"} <= (
        await writing.assert_headers_on_every_response()
    )
    live_page = next(r for r in reading.responses if r.request.resource_type == "document")
    policy = policy_directives(await live_page.header_value("content-security-policy"))
    assert policy["connect-src"] == ["'self'"]
    assert reader.sockets and all(socket.url.startswith("ws://") for socket in reader.sockets)
