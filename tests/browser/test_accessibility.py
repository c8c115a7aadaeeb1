"""The pages checked by axe-core, the engine behind browsers' own accessibility audits, in
Chromium: no violation of any impact on the readers' pages (the events page, the live page
with everything it can show, a permalink, the embed) and none serious or critical on the
desk, its preview frame included, each at a phone's width and a desktop's, in the light
theme and the dark one. On the way, what axe does not look at: no page scrolls sideways
at 320 px, and with reduced motion asked for nothing moves.

axe comes from bench/package.json (npm ci --prefix bench). It goes in as an init script,
which Playwright runs in every document and frame before the page's own scripts and past
the pages' Content-Security-Policy (it refuses inline scripts) without turning it off, so
the pages are checked under the policy readers get; bypass_csp would drop the policy for
the whole page. A page with frames (the desk's preview) is checked as axe's own
integrations check one: axe.runPartial in each frame, then axe.finishRun over them all;
axe.run alone asks frames by message, and leaves one that cannot answer unchecked, as an
"incomplete" result, not a violation.
"""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.async_api import Browser, Frame, Page, expect

from tests.browser import test_desk_pictures
from tests.browser.pages import Desk, Newsroom, Reader
from tests.browser.test_newsroom_desk import PASSWORD, DeskPage
from tests.browser.test_reader_scrolled_down import scroll_to_the_middle
from tests.test_entry_pictures import photo
from updates.embeds import embed_for
from updates.media import picture_item
from updates.models import Entry, Event
from updates.pictures import store_picture
from updates.services import entry_delete, entry_update

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The pictures stored here, in a MEDIA_ROOT that Daphne serves (with DEBUG, as Django does).
media_root = test_desk_pictures.media_root
daphne_settings = test_desk_pictures.daphne_settings

AXE = Path(settings.BASE_DIR) / "bench" / "node_modules" / "axe-core" / "axe.min.js"
SLUG = "harbourside"
WIDTHS = (360, 1280)
THEMES = ("light", "dark")
NARROWEST = 320
SKIP_TEXTS = {"main": "Skip to the main content", "stream": "Skip to the updates"}
# The desk is Django's admin with our forms in it: its minor findings are the admin's.
DESK_IMPACTS = {"serious", "critical"}
OPTIONS = {"resultTypes": ["violations"]}
WHOLE_DOCUMENT = {"exclude": []}

# Each violation with what it takes to find it again: the rule, how bad it is, what it
# asks for, and the elements it failed on (CSS selectors; a list of them into a frame).
SUMMARY = """violations => violations.map(violation => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map(node => ({target: node.target, summary: node.failureSummary})),
}))"""
RUN = f"""async options => ({SUMMARY})((await axe.run(document, options)).violations)"""
FINISH_RUN = f"""async ([partials, options]) =>
    ({SUMMARY})((await axe.finishRun(partials, options)).violations)"""

# Until every finite animation has finished, so that colours are measured as they settle
# (a card that arrives flashes its background), not on the way.
SETTLED = """() => Promise.all(document.getAnimations()
    .filter(animation => animation.effect?.getTiming().iterations !== Infinity)
    .map(animation => animation.finished.catch(() => null)))"""

# What would move with reduced motion asked for: running animations, and transitions
# that take any time.
MOVING = """() => [
    ...document.getAnimations().map(animation =>
        `animation ${animation.animationName} on ${animation.effect?.target?.className}`),
    ...[...document.querySelectorAll("*")]
        .filter(element => getComputedStyle(element).transitionDuration
            .split(",").some(duration => parseFloat(duration) > 0))
        .map(element => `transition on <${element.localName} class="${element.className}">`),
]"""


@pytest.fixture
def everything(settings, media_root, event: Event, make_entry) -> dict[str, Entry]:
    """The event with every kind of card the live page shows, more than its first page of
    20 of them ("Load more" has more to load), and, for the desk, a draft and a deletion."""
    settings.MEDIA_ROOT = media_root
    start = timezone.now() - timedelta(hours=1)
    for number in range(24):
        make_entry(
            headline=f"Ward {number} declares",
            body=f"<p>Turnout in ward {number} was 6{number % 10}%.</p>",
            published_at=start - timedelta(minutes=number),
        )
    key = make_entry(
        headline="Turnout at 62%",
        body="<blockquote><p>Higher than 2019.</p></blockquote>",
        key_event=True,
        published_at=start + timedelta(minutes=2),
    )
    make_entry(headline="Exit poll", body="<p>Not yet.</p>", draft=True)
    entry_delete(entry=make_entry(headline="Wrong ward", published_at=start))
    return {
        "pinned": make_entry(
            headline="How the count works",
            body='<p>Boxes arrive <a href="https://example.org/">from every ward</a>.</p>',
            pinned=True,
            published_at=start + timedelta(minutes=1),
        ),
        # Edited, with a correction: "Updated" and the correction's box.
        "key": entry_update(entry=key, changes={"correction": "An earlier version gave 61%."}),
        "picture": make_entry(
            headline="Boxes reach the Guildhall",
            body="<p>The first ballot boxes are in.</p>",
            media=[
                picture_item(
                    store_picture(photo()),
                    alt="Ballot boxes stacked on a trolley",
                    caption="The Guildhall, 10pm.",
                    credit="Photo: Sam Okafor",
                )
            ],
            published_at=start + timedelta(minutes=3),
        ),
        "embed": make_entry(
            headline="The returning officer speaks",
            body="<p>Watch the statement.</p>",
            media=[embed_for("https://youtu.be/dQw4w9WgXcQ", title="The statement")],
            published_at=start + timedelta(minutes=4),
        ),
    }


async def partial_results(frame: Frame, context: dict) -> list:
    """axe.runPartial's results for the frame and, depth first, every frame in it, in the
    order axe.finishRun takes them."""
    frames = await frame.evaluate("context => axe.utils.getFrameContexts(context)", context)
    results = [
        await frame.evaluate(
            "([context, options]) => axe.runPartial(context, options)", [context, OPTIONS]
        )
    ]
    for each in frames:
        element = await frame.evaluate_handle(
            "selector => axe.utils.shadowSelect(selector)", each["frameSelector"]
        )
        inner = await element.as_element().content_frame()
        results += await partial_results(inner, each["frameContext"])
    return results


async def violations(page: Page) -> list[dict]:
    if len(page.frames) == 1:
        return await page.evaluate(RUN, OPTIONS)
    partials = await partial_results(page.main_frame, WHOLE_DOCUMENT)
    return await page.evaluate(FINISH_RUN, [partials, OPTIONS])


def report(findings: dict[str, list]) -> str:
    lines = []
    for where, found in findings.items():
        for violation in found:
            if isinstance(violation, str):
                lines.append(f"{where}: {violation}")
                continue
            lines.append(f"{where}: {violation['id']} ({violation['impact']}): {violation['help']}")
            lines.extend(
                f"    {json.dumps(node['target'])}: {' '.join(node['summary'].split())}"
                for node in violation["nodes"]
            )
    return "\n".join(lines)


async def check_every_way(
    page: Page, name: str, findings: dict[str, list], impacts: set[str] | None = None
) -> None:
    """axe on the page as it stands, at each width in each theme, into findings under
    "<name> at <width> px, <theme>"; then that nothing is wider than 320 px and that
    nothing moves with reduced motion."""
    for width in WIDTHS:
        for theme in THEMES:
            await page.set_viewport_size({"width": width, "height": 900})
            await page.emulate_media(color_scheme=theme)
            await page.evaluate(SETTLED)
            found = [
                violation
                for violation in await violations(page)
                if impacts is None or violation["impact"] in impacts
            ]
            if found:
                findings[f"{name} at {width} px, {theme}"] = found
    await page.set_viewport_size({"width": NARROWEST, "height": 900})
    wide = await page.evaluate("document.documentElement.scrollWidth")
    if wide > NARROWEST:
        findings[f"{name} at {NARROWEST} px"] = [f"{wide} px wide: it scrolls sideways"]
    await page.emulate_media(reduced_motion="reduce")
    if moving := await page.evaluate(MOVING):
        findings[f"{name} with reduced motion"] = moving
    await page.emulate_media(reduced_motion="no-preference")


async def check_skip_link(page: Page, name: str, target: str, findings: dict[str, list]) -> None:
    """The page's first stop for the keyboard is a link past everything before `target`,
    in view once focused, that takes the reader there."""
    await page.keyboard.press("Tab")
    link = await page.evaluate(
        """() => {
            const link = document.activeElement;
            const box = link.getBoundingClientRect();
            return {
                className: link.className, text: link.textContent, href: link.getAttribute("href"),
                inView: box.top >= 0 && box.bottom <= innerHeight && box.width > 0,
            };
        }"""
    )
    expected = {
        "className": "skip-link",
        "text": SKIP_TEXTS[target],
        "href": f"#{target}",
        "inView": True,
    }
    if link != expected:
        findings[f"{name}: its skip link"] = [f"{link}, not {expected}"]
        return
    await page.keyboard.press("Enter")
    if await page.evaluate("location.hash") != f"#{target}":
        findings[f"{name}: its skip link"] = [f"Enter did not go to #{target}"]


async def test_axe_finds_nothing_on_the_readers_pages_nor_anything_serious_on_the_desk(
    transactional_db,
    browser: Browser,
    reader_server,
    everything: dict[str, Entry],
    desk: Desk,
    event: Event,
    timings,
):
    assert AXE.exists(), f"no {AXE}: run npm ci --prefix bench"
    started = time.monotonic()
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    await context.add_init_script(path=AXE)
    reader = Reader(await context.new_page(), reader_server.url)
    page = reader.page
    findings: dict[str, list] = {}

    await page.goto(reader_server.url + "/")
    await check_skip_link(page, "the events page", "main", findings)
    await check_every_way(page, "the events page", findings)

    # All of it: pinned, key events, a picture, an embed, "Load more" clicked, and a new
    # update waiting behind the new-updates button while the reader is scrolled down.
    await reader.open(SLUG)
    await reader.wait_until_live()
    await check_skip_link(page, "the live page", "stream", findings)
    await page.locator("#load-more").click()
    await expect(page.locator("#stream article.entry")).to_have_count(27)
    await expect(page.locator("#load-more")).to_be_hidden()
    await scroll_to_the_middle(reader)
    await desk.publish("Recount in the east ward")
    await expect(reader.new_updates).to_be_visible()
    await check_every_way(page, "the live page", findings)
    await expect(reader.new_updates).to_be_visible()
    assert reader.errors == []

    await page.goto(reader_server.url + everything["picture"].get_absolute_url())
    await check_skip_link(page, "a permalink", "main", findings)
    await check_every_way(page, "a permalink", findings)

    await page.goto(f"{reader_server.url}/live/{SLUG}/embed/")
    await reader.wait_until_live()
    await check_skip_link(page, "the embed", "stream", findings)
    await check_every_way(page, "the embed", findings)

    # The desk with a card in its preview frame; the reader's Daphne serves the admin too.
    newsroom = Newsroom(page, reader_server.url)
    await newsroom.log_in("sam", PASSWORD)
    desk_page = DeskPage(newsroom, event)
    await desk_page.open()
    await desk_page.headline.fill("The result")
    await desk_page.start_body()
    await desk_page.type("Declared at 3am.")
    await page.locator("#preview-button").click()
    await expect(desk_page.preview.content_frame.locator("article.entry")).to_be_visible()
    # Nothing runs in the preview's sandbox, not even axe's promises: the same card in the
    # same frame, loaded again with scripts allowed, for axe alone (the card has none).
    async with page.expect_event("framenavigated", lambda frame: frame.parent_frame is not None):
        await desk_page.preview.evaluate(
            "frame => { frame.sandbox.add('allow-scripts'); frame.srcdoc = frame.srcdoc; }"
        )
    await expect(desk_page.preview.content_frame.locator("article.entry")).to_be_visible()
    await check_every_way(page, "the desk", findings, impacts=DESK_IMPACTS)

    timings("axe on five pages, four ways each", time.monotonic() - started)
    assert not findings, "axe found:\n" + report(findings)
