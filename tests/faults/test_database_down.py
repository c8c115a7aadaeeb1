"""PostgreSQL restarted, then stopped for 30 s, under readers and a journalist posting on
the desk, through make cluster's nginx, gunicorn and two Daphne processes (issue 19):
readers keep their sockets and their pages, the desk says it could not save and keeps every
word for the next try, nothing committed is lost, every reader converges once PostgreSQL is
back, and the connection pools recover by themselves. PostgreSQL is a cluster of the test's
own (tests/private_postgres.py): the machine's one, which the suite shares, is left alone."""

import asyncio
import json
import re
import time
from collections.abc import Iterator

import lxml.html
import psycopg
import pytest

from tests.cluster import cluster_start
from tests.faults.conftest import RawReaders
from tests.private_postgres import PrivatePostgres
from tests.test_deploy import Browser, sign_in
from updates.management.commands.load_demo import SLUG

pytestmark = pytest.mark.faults

READERS = 50
DOWN_SECONDS = 30
# The desk's answer while PostgreSQL is down comes once the pool has waited for a
# connection (its timeout, 3 s): never a hang.
ANSWER_SECONDS = 6
# Once PostgreSQL is back, each process's pool connects again within seconds (its
# reconnect_timeout is 5 s), the first request to each waiting for it.
RECOVER_SECONDS = 20
CONVERGE_SECONDS = 20
LOGIN = re.compile(r"^Journalist login at /admin/: username (\S+), password (\S+)$", re.M)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    yield server
    server.remove()


class Desk:
    """A journalist signed in through nginx, posting on the event's desk as a browser does."""

    def __init__(self, base: str, said: str, event_id: int) -> None:
        self.base, self.browser = base, Browser()
        status, landed, _ = sign_in(self.browser, base, *LOGIN.search(said).groups())
        assert (status, landed) == (200, base + "/admin/"), status
        self.url = f"{base}/admin/updates/event/{event_id}/desk/"

    def open(self) -> str:
        status, page = once_answered(lambda: self.browser.get(self.url)[::2])
        assert status == 200, page[:2000]
        return page

    def form(self, headline: str, body: str) -> dict[str, str]:
        """The desk's post form, opened and filled in."""
        fields = {"csrfmiddlewaretoken": token(self.open()), "headline": headline, "body": body}
        return fields | {"byline": "Sam Okafor, political editor"}

    def send(self, fields: dict[str, str]) -> tuple[int, str]:
        status, _, page = self.browser.post(self.url, fields)
        return status, page

    def post_until_saved(self, fields: dict[str, str]) -> tuple[str, int]:
        """Sends fields again, a second apart, while the desk says they could not be saved
        (nothing was: the journalist's "Try again"); the desk's page after, and the tries."""
        tries, deadline = 0, time.monotonic() + RECOVER_SECONDS
        while True:
            tries += 1
            status, page = self.send(fields)
            if "could not be saved" not in page or time.monotonic() > deadline:
                break
            time.sleep(1)
        # Saved. The desk the post goes back to may wait a moment longer for its process's
        # pool, and say so ("This page could not be made"); its next view has the news.
        return (page if status == 200 else self.open()), tries


def once_answered(request) -> tuple[int, str]:
    """request() again, a second apart, while it answers 503, the database's "not now" (a
    page or the API that could not be made: nothing done), as a reader's page or script
    tries again; for RECOVER_SECONDS at most. Returns (status, text)."""
    deadline = time.monotonic() + RECOVER_SECONDS
    while True:
        status, text = request()
        if status != 503 or time.monotonic() > deadline:
            return status, text
        time.sleep(1)


def token(form: str) -> str:
    return form_fields(form)["csrfmiddlewaretoken"]


def form_fields(page: str) -> dict[str, str]:
    """What the page's (first) form sends, as lxml reads it."""
    return dict(lxml.html.fromstring(page).forms[0].form_values())


def get_json(browser: Browser, url: str) -> dict:
    status, body = once_answered(lambda: browser.get(url)[::2])
    assert status == 200, body[:500]
    return json.loads(body)


def test_postgres_restarted_and_down_for_30_s_costs_no_reader_no_word_and_no_entry(
    postgres, daphne_env, timings
):
    cluster = cluster_start(
        daphne_env | {"DATABASE_URL": postgres.url(), "LIVE_HEARTBEAT_SECONDS": "2"}
    )
    try:
        with psycopg.connect(postgres.url()) as database:
            (event_id,) = database.execute(
                "SELECT id FROM updates_event WHERE slug = %s", [SLUG]
            ).fetchone()
        desk = Desk(cluster.url, "".join(cluster.said), event_id)
        reader = Browser()
        api = f"{cluster.url}/api/events/{SLUG}/"
        asyncio.run(run(postgres, cluster.url, desk, reader, api, timings))
    finally:
        assert cluster.stop() == 0


async def run(postgres, base: str, desk: Desk, reader: Browser, api: str, timings) -> None:
    readers = RawReaders(base, READERS, slug=SLUG)
    await readers.start()
    try:
        form = await asyncio.to_thread(desk.form, "Count under way", "<p>Boxes in.</p>")
        page, _ = await asyncio.to_thread(desk.post_until_saved, form)
        assert "Published: Count under way" in page, page[:2000]

        # Restarted (as a minor upgrade does): every pooled connection is dead, and each is
        # replaced rather than handed to a request. The next post goes through.
        await asyncio.to_thread(postgres.restart)
        started = time.monotonic()
        form = await asyncio.to_thread(
            desk.form, "Recount in Northgate", "<p>The margin was 12 votes.</p>"
        )
        page, tries = await asyncio.to_thread(desk.post_until_saved, form)
        assert "Published: Recount in Northgate" in page, page[:2000]
        timings(
            f"PostgreSQL restarted -> the next post published (try {tries})",
            time.monotonic() - started,
        )
        status, live_page = await asyncio.to_thread(
            once_answered, lambda: reader.get(f"{base}/live/{SLUG}/")[::2]
        )
        assert status == 200 and "Recount in Northgate" in live_page

        words = "<p>Turnout is 64%, the highest since 1997 & rising.</p>"
        form = await asyncio.to_thread(desk.form, "Turnout at 64%", words)
        await asyncio.to_thread(postgres.stop)
        down_at = time.monotonic()
        # The journalist posts: a clear answer, every word kept for the next try.
        status, page = await asyncio.to_thread(desk.send, form)
        answered = time.monotonic() - down_at
        assert status == 503, page[:2000]
        assert "could not be saved" in page
        kept = form_fields(page)
        assert kept["headline"] == "Turnout at 64%"
        assert kept["body"] == words
        assert kept["byline"] == "Sam Okafor, political editor"
        assert answered < ANSWER_SECONDS
        timings("PostgreSQL down -> the desk said it could not save", answered)
        # A reader opening the page meanwhile gets the last one nginx kept.
        status, _, live_page = await asyncio.to_thread(reader.get, f"{base}/live/{SLUG}/")
        assert status == 200 and "Recount in Northgate" in live_page, live_page[:2000]

        await asyncio.sleep(max(0.0, down_at + DOWN_SECONDS - time.monotonic()))
        await asyncio.to_thread(postgres.start)
        up_at = time.monotonic()
        # "Try again" sends what the page kept, while the pools connect again: soon, and by
        # themselves.
        page, tries = await asyncio.to_thread(desk.post_until_saved, kept)
        assert "Published: Turnout at 64%" in page, page[:2000]
        timings(
            f"PostgreSQL back -> the kept post published (try {tries})", time.monotonic() - up_at
        )

        event = await asyncio.to_thread(get_json, reader, api)
        await readers.wait(
            lambda: all(revision == event["revision"] for revision in readers.revisions),
            CONVERGE_SECONDS,
            f"every reader at revision {event['revision']}",
        )
        timings("PostgreSQL back -> every reader at the latest revision", time.monotonic() - up_at)
        # Nobody's socket was closed: one hello each, all along.
        assert [len(hellos) for hellos in readers.hellos_at] == [1] * READERS
    finally:
        await readers.stop()

    entries = await asyncio.to_thread(get_json, reader, f"{api}entries/?order=newest")
    headlines = [entry["headline"] for entry in entries["entries"]]
    for headline in ("Count under way", "Recount in Northgate", "Turnout at 64%"):
        assert headlines.count(headline) == 1, headlines
