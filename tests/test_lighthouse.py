"""Lighthouse's SEO and best-practices audits of the pages as one real Daphne serves them
(issue 16): the live page and a permalink score 1.00 in both; the embed scores 1.00 in
best practices and is kept out of search results (noindex, its canonical the live page).

The event has what a live page carries: a pinned entry, a key event, a picture stored as
the desk stores it and a YouTube embed. Lighthouse is the one bench/ pins (npm ci --prefix
bench: `make test` runs it), in Chromium with the browser tests' flags, desktop preset,
one URL after the other. On a failure the message lists each audit that failed, with its
details: what Lighthouse found and where."""

import json
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from django.utils import timezone

from bench.lighthouse_cli import CHROMIUM, CHROMIUM_ARGS, lighthouse_missing, run_lighthouse
from tests.servers import DaphneServer
from tests.test_page_metadata import with_picture
from updates.embeds import embed_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# One run takes about 7 s here; a stuck one fails the test, not the whole run.
LIGHTHOUSE_SECONDS = 60


@pytest.fixture
def lighthouse() -> None:
    # Before Daphne starts: a machine without them skips at once.
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium: apt-get install chromium")
    if missing := lighthouse_missing():
        pytest.skip(missing)


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def daphne_settings(media_root) -> dict[str, str]:
    # DEBUG only so that Django serves the picture from MEDIA_ROOT, as nginx does in
    # deploy/: a 404 would be an error in the console. It also gives static files their
    # plain names, not the hashed ones, which no audit here reads.
    return {"MEDIA_ROOT": str(media_root), "DEBUG": "true"}


def audit_lines(report: dict, category: str) -> list[str]:
    """The category's audits that did not pass, each with what Lighthouse found."""
    lines = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if audit.get("score") is not None and audit["score"] < 1:
            lines += described(audit)
    return lines


def described(audit: dict) -> list[str]:
    """An audit's title and score, and what it found: the first items of its details."""
    shown = f", {audit['displayValue']}" if audit.get("displayValue") else ""
    lines = [f"  {audit['id']}: {audit['title']} (score {audit.get('score')}{shown})"]
    for item in (audit.get("details") or {}).get("items", [])[:10]:
        node = item.get("node") if isinstance(item, dict) else None
        if isinstance(node, dict):  # its snippet says more than its path in the DOM
            item = item | {"node": node.get("snippet") or node.get("selector")}
        lines.append(f"    {json.dumps(item, ensure_ascii=False)[:400]}")
    if audit.get("explanation"):
        lines.append(f"    {audit['explanation']}")
    return lines


def scores(report: dict) -> dict[str, float | None]:
    return {name: category["score"] for name, category in report["categories"].items()}


def canonical_of(url: str) -> list[str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        tree = lxml.html.fromstring(response.read())
    return [link.get("href") for link in tree.iter("link") if link.get("rel") == "canonical"]


def test_the_live_page_and_a_permalink_score_full_marks_and_the_embed_stays_out_of_search(
    lighthouse, event, make_entry, reader_server: DaphneServer, tmp_path, timings
):
    now = timezone.now()
    make_entry(
        headline="How to follow the count tonight",
        body=(
            "<p>Results come ward by ward from about 11pm. "
            '<a href="https://example.com/wards">See the map of the wards</a>.</p>'
        ),
        byline="Ines Duarte, Live Editor",
        pinned=True,
        published_at=now - timedelta(hours=3),
    )
    make_entry(
        headline="Polls have closed",
        body="<p>Ballot boxes are on their way to the Guildhall.</p>",
        key_event=True,
        published_at=now - timedelta(hours=2),
    )
    pictured = make_entry(
        headline="The first boxes arrive",
        body="<p>Counting staff began sorting the papers at 10.40pm.</p>",
        byline="Sam Okafor, Political Correspondent",
        media=with_picture("Counting staff tip ballot papers onto a table"),
        published_at=now - timedelta(hours=1),
    )
    make_entry(
        headline="The candidates speak",
        body="<p>Each candidate recorded a message before the count.</p>",
        media=[embed_for("https://youtu.be/dQw4w9WgXcQ", title="The candidates' messages")],
        published_at=now - timedelta(minutes=30),
    )
    live = f"{reader_server.url}/live/{event.slug}/"
    pages = {
        "live page": live,
        "permalink": f"{live}entries/{pictured.pk}/",
        "embed": f"{live}embed/",
    }

    reports, problems = {}, []
    for name, url in pages.items():
        started = time.monotonic()
        reports[name] = report = run_lighthouse(
            url,
            tmp_path / f"lighthouse-{name.replace(' ', '-')}.json",
            categories=["seo", "best-practices"],
            form_factor="desktop",
            chrome=str(CHROMIUM),
            chrome_flags=CHROMIUM_ARGS,
            timeout=LIGHTHOUSE_SECONDS,
        )
        timings(f"Lighthouse on the {name}", time.monotonic() - started)
        print(f"{name}: {scores(report)}")

    for name in ("live page", "permalink"):
        report = reports[name]
        if scores(report) != {"seo": 1, "best-practices": 1}:
            problems.append(f"{name} {pages[name]}: {scores(report)}")
            problems += audit_lines(report, "seo") + audit_lines(report, "best-practices")
    embed = reports["embed"]
    if embed["categories"]["best-practices"]["score"] != 1:
        problems.append(f"embed {pages['embed']}: {scores(embed)}")
        problems += audit_lines(embed, "best-practices")
    # Kept out of search results: Lighthouse finds it blocked from indexing by its noindex.
    crawlable = embed["audits"]["is-crawlable"]
    if crawlable["score"] != 0 or "noindex" not in json.dumps(crawlable.get("details")):
        problems.append(f"embed {pages['embed']}: not kept out of search results by noindex")
        problems += described(crawlable)
    if embed["audits"]["canonical"]["score"] != 1:
        problems.append(f"embed {pages['embed']}: its canonical link is not valid")
        problems += described(embed["audits"]["canonical"])

    if problems:
        pytest.fail("Lighthouse:\n" + "\n".join(problems))
    assert canonical_of(pages["embed"]) == [live]
