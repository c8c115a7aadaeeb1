"""A reporter on a phone (issue 20, item 5), in Chromium: a journalist's desk in a 360 × 740
screen as a phone shows it (is_mobile: the page's viewport tag applies; has_touch: taps,
and a coarse pointer), on a busy night. axe finds nothing serious on it, as
test_accessibility.py runs axe; the post form is on the first screen with Post at its
foot, every target a thumb needs is 44 CSS px at least, fields are in 16 px type (iOS
zooms into anything smaller), nothing scrolls sideways; then taps and typing post an entry.

On the way, the desk's first view: every byte Chromium fetches to show it, from an empty
cache, headers included, as Daphne sends it (whitenoise's compressed copy of each static
file, Brotli where the browser takes it; the admin's HTML uncompressed, as
deploy/nginx.conf leaves it against BREACH), until the network is idle, by type, held
under its budget (FIRST_VIEW_BUDGET); then what the first touch of the form brings (the
rich-text editor). Daphne speaks HTTP/1.1: production's HTTP/2 sends the
headers compressed, and nginx gzips /jsi18n/, so this is a little over what a phone gets.
"""

import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.async_api import Browser, Page, expect

from tests.browser import pages
from tests.browser.pages import Newsroom
from tests.browser.test_accessibility import AXE, DESK_IMPACTS, MOVING, SETTLED, report, violations
from tests.browser.test_newsroom_desk import PASSWORD, DeskPage
from updates.desk import DESK_ENTRIES
from updates.models import Entry, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A small phone: 360 × 740 at twice the pixels, where pages.PHONE is 390 × 844 at three.
PHONE = pages.PHONE | {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2}
NARROWEST = 320
# Apple's and WCAG 2.5.5's smallest target for a finger, in CSS px.
TARGET = 44
# iOS zooms the page into a focused field whose text is smaller.
FIELD_TEXT_PX = 16
# Issue 20's budget. The rich-text editor's bundle alone is 145 KB (Brotli) to 174 KB
# (gzip): it comes with the form's first touch (static/desk.js), weighed apart.
FIRST_VIEW_BUDGET = 200_000
# Every stylesheet the page links is in (the editor's come with the first touch).
EVERY_STYLESHEET_IN = "[...document.querySelectorAll('link[rel=stylesheet]')].every(l => l.sheet)"
# What Chromium's CDP calls each response, as the budget's lines name them.
KINDS = {
    "Document": "HTML",
    "Stylesheet": "CSS",
    "Script": "JS",
    "Font": "fonts",
    "Image": "images",
}
# The whole icon font of django-prose-editor, which static/desk.css replaces by its cut.
WHOLE_ICON_FONT = re.compile(r"/static/django_prose_editor/material-icons\.\w+\.woff2")

# Each box a thumb taps on the desk: its name and its size, in CSS px.
TARGETS = """() => {
    const boxes = [
        ["Post", "#post-button"],
        ["Preview", "#preview-button"],
        ["a checkbox's label", ".desk__row--checks label"],
        ["a picture's file input", "#pictures input[type=file]"],
        ["a picture's label", "#pictures .pictures__field label"],
        ["Add another picture", "#add-picture"],
        ["the editor's menu", ".prose-menubar__button:not(.hidden)"],
        ["an entry's Edit", "#desk-entries .desk__actions > a"],
        ["an entry's action", "#desk-entries .desk__action button"],
    ];
    return boxes.flatMap(([name, selector]) => [...document.querySelectorAll(selector)]
        .filter(element => element.getClientRects().length)
        .map(element => {
            const box = element.getBoundingClientRect();
            const label = (element.textContent || element.getAttribute("aria-label") || "").trim();
            return {name: `${name} "${label.slice(0, 30)}"`, width: box.width, height: box.height};
        }));
}"""

# The size of the text each field is typed in.
FIELD_TEXT = """() => [...document.querySelectorAll(
    "#post-form input:not([type=checkbox], [type=hidden], [type=file]), #post-form .ProseMirror"
)].filter(field => field.getClientRects().length).map(field => ({
    name: field.id || field.className, px: parseFloat(getComputedStyle(field).fontSize),
}))"""

# Each icon of the editor's menu bar that is not drawn as one glyph (by its ligature) but
# spelled out: its name, and how wide it came out.
SPELLED_ICONS = """async () => {
    await document.fonts.ready;
    return [...document.querySelectorAll(".prose-menubar .material-icons")].flatMap(button => {
        const range = document.createRange();
        range.selectNodeContents(button);
        const width = range.getBoundingClientRect().width;
        const size = parseFloat(getComputedStyle(button).fontSize);
        return width > size * 1.5 ? [`${button.textContent}: ${width} px`] : [];
    });
}"""

# Where things are on the screen, in CSS px from its top; and whether Post is in sight
# there (nothing drawn over it).
SCREEN = """() => {
    const box = selector => document.querySelector(selector).getBoundingClientRect();
    const post = box("#post-button");
    const seen = document.elementFromPoint(post.x + post.width / 2, post.y + post.height / 2);
    return {
        height: innerHeight,
        headline: box("#id_headline").bottom,
        body: box("#post-form .ProseMirror[contenteditable=true]").top,
        buttons: box(".desk__buttons").top,
        post: {top: post.top, bottom: post.bottom, seen: seen?.id === "post-button"},
    };
}"""

CARET = """() => getSelection().getRangeAt(0).getBoundingClientRect().bottom"""


@dataclass
class Weight:
    """What a page fetched: bytes on the wire (headers included) and requests, by kind."""

    bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    paths: list[str] = field(default_factory=list)
    _kinds: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.bytes.values())

    def table(self, title: str) -> str:
        lines = [f"{title}: {self.total / 1000:.1f} KB in {sum(self.requests.values())} requests"]
        lines += [
            f"  {kind:7} {self.bytes[kind] / 1000:6.1f} KB  {self.requests[kind]:2} requests"
            for kind in sorted(self.bytes, key=self.bytes.__getitem__, reverse=True)
        ]
        return "\n".join(lines)

    def received(self, event: dict) -> None:
        url = urlsplit(event["response"]["url"])
        if url.scheme in {"http", "https"}:  # not data: URLs, which cost nothing
            self._kinds[event["requestId"]] = KINDS.get(event["type"], "other")
            self.paths.append(url.path)

    def finished(self, event: dict) -> None:
        kind = self._kinds.pop(event["requestId"], None)
        # Nothing on the wire: served from the browser's cache.
        if kind is not None and event["encodedDataLength"]:
            self.bytes[kind] += int(event["encodedDataLength"])
            self.requests[kind] += 1


async def weigh(page: Page, load: Callable[[], Awaitable[object]], *, empty_cache: bool) -> Weight:
    """What the page fetches for load() (a navigation, or a touch that waits for what it
    brings), until the network is idle and the fonts are in: from an empty cache, or
    with what it has cached (never a file named by its hash twice: whitenoise lets
    browsers keep those for good)."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    if empty_cache:
        await cdp.send("Network.clearBrowserCache")
    weight = Weight()
    cdp.on("Network.responseReceived", weight.received)
    cdp.on("Network.loadingFinished", weight.finished)
    await load()
    await page.wait_for_load_state("networkidle")
    await page.evaluate("document.fonts.ready.then(() => null)")
    await cdp.detach()
    return weight


@pytest.fixture
def busy_night(make_entry) -> None:
    """As many entries as the desk lists, a few with a tag; each with a byline and a body."""
    start = timezone.now() - timedelta(hours=3)
    for number in range(DESK_ENTRIES):
        make_entry(
            headline=f"Ward {number} declares: turnout {50 + number % 20}%, recount refused",
            body=f"<p>The returning officer read the figures for ward {number} at the leisure "
            "centre; the candidates' agents accepted them.</p>",
            key_event=number % 7 == 0,
            published_at=start + timedelta(minutes=5 * number),
        )


async def test_a_reporter_posts_from_a_phone_to_a_desk_that_fits_it(
    transactional_db,
    event: Event,
    journalist,
    busy_night,
    browser: Browser,
    newsroom_server,
    timings,
):
    assert AXE.exists(), f"no {AXE}: run npm ci --prefix bench"
    started = time.monotonic()
    context = await browser.new_context(**PHONE)
    await context.add_init_script(path=AXE)
    newsroom = Newsroom(await context.new_page(), newsroom_server.url)
    page = newsroom.page
    await newsroom.log_in("sam", PASSWORD)
    desk = DeskPage(newsroom, event)

    first_view = await weigh(page, lambda: page.goto(desk.url), empty_cache=True)
    print("\n" + first_view.table("The desk's first view"))
    if fetched := [url for url in first_view.paths if "django_prose_editor" in url]:
        pytest.fail(f"The first view fetched the rich-text editor: {fetched}")

    # The reporter's thumb on the headline brings the editor.
    async def touch() -> None:
        await desk.headline.tap()
        await expect(desk.editor).to_be_visible()
        await page.wait_for_function(EVERY_STYLESHEET_IN)

    first_touch = await weigh(page, touch, empty_cache=False)
    print(first_touch.table("What the first touch of the form brings"))
    problems: dict[str, list] = {}

    # The post form on the first screen, under no more than the admin's header: the
    # headline and the start of the body above the Post button, which sits at the foot
    # of the screen though the form goes on below it.
    screen = await page.evaluate(SCREEN)
    if not screen["headline"] < screen["body"] < screen["buttons"] <= screen["height"]:
        problems["the first screen"] = [f"headline, body or Post off it: {screen}"]
    if not (screen["post"]["bottom"] <= screen["height"] and screen["post"]["seen"]):
        problems["Post"] = [f"not on the first screen, in sight: {screen['post']}"]

    too_small = [
        f"{target['name']}: {target['width']:.0f} × {target['height']:.0f}"
        for target in await page.evaluate(TARGETS)
        if min(target["width"], target["height"]) < TARGET
    ]
    if too_small:
        problems[f"targets under {TARGET} px"] = too_small
    small_text = [
        f"{each['name']}: {each['px']} px"
        for each in await page.evaluate(FIELD_TEXT)
        if each["px"] < FIELD_TEXT_PX
    ]
    if small_text:
        problems[f"fields under {FIELD_TEXT_PX} px"] = small_text
    # The editor's icons from static/desk-icons.woff2, none spelled out; not the whole font.
    if spelled := await page.evaluate(SPELLED_ICONS):
        problems["icons spelled out"] = spelled
    touched = first_view.paths + first_touch.paths
    if fetched := [url for url in touched if WHOLE_ICON_FONT.fullmatch(url)]:
        problems["the whole icon font fetched"] = fetched

    # axe, light and dark, as test_accessibility.py runs it on the desk; nothing moves
    # with reduced motion asked for; nothing wider than the screen down to 320 px.
    for theme in ("light", "dark"):
        await page.emulate_media(color_scheme=theme)
        await page.evaluate(SETTLED)
        found = [each for each in await violations(page) if each["impact"] in DESK_IMPACTS]
        if found:
            problems[f"axe at 360 px, {theme}"] = found
    await page.emulate_media(color_scheme="light", reduced_motion="reduce")
    if moving := await page.evaluate(MOVING):
        problems["moving with reduced motion"] = moving
    for width in (PHONE["viewport"]["width"], NARROWEST):
        await page.set_viewport_size({"width": width, "height": PHONE["viewport"]["height"]})
        wide = await page.evaluate("document.documentElement.scrollWidth")
        if wide > width:
            problems[f"at {width} px"] = [f"{wide} px wide: it scrolls sideways"]
    await page.set_viewport_size(PHONE["viewport"])
    assert not problems, "On the phone:\n" + report(problems)

    # One thumb: tap the headline, type, tap the body, type lines, tap Post.
    await desk.headline.tap()
    await expect(desk.headline).to_be_focused()
    await desk.type("Recount called in Eastgate")
    await desk.editor.tap()
    await expect(desk.editor).to_be_focused()
    for line in range(1, 9):
        await desk.type(f"Line {line} from the count, typed with a thumb.")
        await page.keyboard.press("Enter")
    await desk.type("The margin was 12 votes.")
    # The line being typed stays above the Post button.
    caret, buttons = await page.evaluate(CARET), (await page.evaluate(SCREEN))["buttons"]

    async def post() -> None:
        await page.locator("#post-button").tap()
        await desk.expect_message("Published: Recount called in Eastgate")

    # Each post brings the desk back, from the cache but for its HTML and what it asks.
    again = await weigh(page, post, empty_cache=False)
    print(again.table("The desk after a post"))
    await expect(desk.row(await desk.entry_id("Recount called in Eastgate"))).to_be_visible()
    entry = await Entry.objects.aget(headline="Recount called in Eastgate")
    assert entry.state == "published"
    assert entry.body.endswith("<p>The margin was 12 votes.</p>")
    assert entry.byline == "Sam Okafor, Political Correspondent"
    timings("the desk on a phone: weighed, checked, posted", time.monotonic() - started)
    await context.close()

    late = []
    if caret > buttons:
        late.append(f"The line typed ends at {caret:.0f} px, under Post (from {buttons:.0f} px)")
    if first_view.total >= FIRST_VIEW_BUDGET:
        late.append(first_view.table(f"Over {FIRST_VIEW_BUDGET / 1000:.0f} KB"))
    assert not late, "\n".join(late)
