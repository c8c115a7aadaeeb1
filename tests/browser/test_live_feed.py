"""static/live-feed.js on its own, in a blank page: no server, a scripted one instead.

The feed is given messages as a websocket might deliver them (late, twice, in the wrong
order, some never) and answers to its catch-up requests as the server would give them
(read at some moment between the request and the answer), and must end up showing
exactly the server's state.
"""

import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from playwright.async_api import Browser, Page

pytestmark = pytest.mark.browser

LIVE_FEED_JS = Path(settings.BASE_DIR) / "static" / "live-feed.js"
SEEDS = range(12)
HISTORY_LENGTH = 60

# The page's side: the feed, and what it shows. fetchChanges() answers when the test says.
HARNESS = """
window.shown = new Map();      // entry id => headline on screen
window.removed = new Set();    // ids taken off the screen
window.eventShown = null;      // the event's state on screen
window.restarts = 0;
window.pending = [];           // catch-up requests the test has not answered yet
window.asked = 0;
window.failures = [];

window.startFeed = ({revision, cards, event}) => {
  cards.forEach(card => shown.set(card.id, card.headline));
  eventShown = event;
  window.feed = new LiveFeed({
    revision,
    show: entry => { shown.set(entry.id, entry.headline); removed.delete(entry.id); },
    remove: id => { shown.delete(id); removed.add(id); },
    onEvent: event => { eventShown = event; },
    restart: () => { restarts += 1; },
    fetchChanges: since => new Promise((resolve, reject) => {
      pending.push({number: asked++, since, resolve, reject});
    }),
  });
  cards.forEach(card => feed.know(card.id, card.revision));
};

// After a macrotask every promise callback the last step queued has run; then the
// catch-up requests waiting for an answer.
const settle = () => new Promise(done => setTimeout(done, 0)).then(
  () => pending.map(request => ({number: request.number, since: request.since}))
);

window.deliver = message => {
  feed.receive(message).catch(error => failures.push(String(error)));
  return settle();
};

window.answer = reply => {
  const request = pending.shift();
  if (reply === null) request.reject(new Error("network down"));
  else request.resolve(reply);
  return settle();
};

window.snapshot = () => ({
  revision: feed.revision,
  held: feed.held.size,
  shown: Object.fromEntries(shown),
  removed: [...removed],
  event: eventShown,
  restarts,
  pending: pending.map(request => ({number: request.number, since: request.since})),
  failures,
});
"""


@pytest.fixture
async def page(browser: Browser) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto("about:blank")
    await page.add_script_tag(path=LIVE_FEED_JS)
    await page.add_script_tag(content=HARNESS)
    return page


async def deliver(page: Page, message: dict) -> list[dict]:
    """The socket hands the feed a message; returns the catch-up requests then waiting."""
    return await page.evaluate("message => deliver(message)", message)


async def answer(page: Page, reply: dict | None) -> list[dict]:
    """The server answers the feed's catch-up request (None: the request failed)."""
    return await page.evaluate("reply => answer(reply)", reply)


# The scripted server ---------------------------------------------------------------------


def entry_message(kind: str, revision: int, entry_id: int, headline: str) -> dict:
    return {
        "type": kind,
        "revision": revision,
        "entry": {"id": entry_id, "revision": revision, "headline": headline},
    }


def deleted_message(revision: int, entry_id: int) -> dict:
    return {
        "type": "entry.deleted",
        "revision": revision,
        "entry": {"id": entry_id, "deleted": True, "revision": revision},
    }


def event_message(revision: int, title: str) -> dict:
    return {"type": "event.updated", "revision": revision, "event": {"title": title}}


def random_history(rng: random.Random, length: int) -> list[dict]:
    """One message per revision, 1 to length: entries published, edited, deleted and
    restored, and the event renamed now and then."""
    visible: set[int] = set()
    deleted: set[int] = set()
    history: list[dict] = []
    for revision in range(1, length + 1):
        kinds = ["publish"] * 3
        kinds += ["edit"] * 3 + ["delete"] if visible else []
        kinds += ["restore"] if deleted else []
        kinds += ["event"]
        kind = rng.choice(kinds)
        if kind == "publish":
            entry_id = revision * 10
            visible.add(entry_id)
            history.append(entry_message("entry.created", revision, entry_id, f"new@{revision}"))
        elif kind == "edit":
            entry_id = rng.choice(sorted(visible))
            history.append(entry_message("entry.updated", revision, entry_id, f"edit@{revision}"))
        elif kind == "delete":
            entry_id = rng.choice(sorted(visible))
            visible.remove(entry_id)
            deleted.add(entry_id)
            history.append(deleted_message(revision, entry_id))
        elif kind == "restore":
            entry_id = rng.choice(sorted(deleted))
            deleted.remove(entry_id)
            visible.add(entry_id)
            history.append(entry_message("entry.updated", revision, entry_id, f"back@{revision}"))
        else:
            history.append(event_message(revision, f"Harbourside, take {revision}"))
    return history


@dataclass
class ScriptedServer:
    """An event whose r-th change is history[r - 1]; it has got as far as `revision`."""

    history: list[dict]
    revision: int = 0

    def entries_at(self, revision: int) -> dict[int, dict]:
        """Each entry's latest change up to the revision (tombstones included)."""
        latest: dict[int, dict] = {}
        for message in self.history[:revision]:
            if message["type"] != "event.updated":
                latest[message["entry"]["id"]] = message["entry"]
        return latest

    def event_at(self, revision: int) -> dict:
        event = {"title": "Harbourside"}
        for message in self.history[:revision]:
            if message["type"] == "event.updated":
                event = message["event"]
        return event

    def visible_at(self, revision: int) -> dict[int, str]:
        return {
            entry_id: entry["headline"]
            for entry_id, entry in self.entries_at(revision).items()
            if not entry.get("deleted")
        }

    def changes(self, since: int, at: int) -> dict:
        """GET changes/?since=, answered with the event as of revision `at`."""
        if since > at:
            return {"revision": at, "changes": [], "reset": True, "event": self.event_at(at)}
        changed = [e for e in self.entries_at(at).values() if e["revision"] > since]
        return {
            "revision": at,
            "changes": sorted(changed, key=lambda entry: entry["revision"]),
            "event": self.event_at(at),
        }

    def publish(self) -> dict:
        self.revision += 1
        return self.history[self.revision - 1]


@dataclass
class Run:
    """The feed in the page against the scripted server, one step at a time."""

    page: Page
    server: ScriptedServer
    rng: random.Random
    in_transit: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)  # the feed's unanswered requests
    asked_at: dict[int, int] = field(default_factory=dict)  # request => server revision then
    failed_on_purpose: int = 0

    async def start(self, page_revision: int, rendered_at: int) -> None:
        """The page as the server renders it: the event read at page_revision, then the
        entries, a moment later, at rendered_at (views.live reads them in that order)."""
        self.server.revision = rendered_at
        entries = self.server.entries_at(rendered_at)
        cards = [
            {"id": entry_id, "revision": entry["revision"], "headline": entry["headline"]}
            for entry_id, entry in entries.items()
            if not entry.get("deleted")
        ]
        await self.page.evaluate(
            "options => startFeed(options)",
            {
                "revision": page_revision,
                "cards": cards,
                "event": self.server.event_at(page_revision),
            },
        )

    def note(self, pending: list[dict]) -> None:
        # One catch-up request at a time.
        assert len(pending) <= 1, pending
        for request in pending:
            self.asked_at.setdefault(request["number"], self.server.revision)
        self.pending = pending

    async def deliver(self, message: dict) -> None:
        self.note(await deliver(self.page, message))

    async def connect(self) -> None:
        """A new socket: what was on its way on the old one is lost; hello comes first,
        with what the feed missed since the revision it gave in the socket's URL."""
        self.in_transit.clear()
        since = (await self.page.evaluate("snapshot()"))["revision"]
        hello = {"type": "hello", "revision": self.server.revision}
        if since != self.server.revision:
            hello["catch_up"] = self.server.changes(since, self.server.revision)
        await self.deliver(hello)

    def publish(self) -> None:
        message = self.server.publish()
        roll = self.rng.random()
        if roll < 0.1:
            return  # lost on the way
        self.in_transit.append(message)
        if roll > 0.85:
            self.in_transit.append(message)  # and once more

    async def deliver_one(self) -> None:
        # Now and then the changes at the front come merged into one frame, as a burst does.
        changes = list(itertools.takewhile(lambda m: m["type"] != "heartbeat", self.in_transit))
        if len(changes) > 1 and self.rng.random() < 0.2:
            merged = changes[: self.rng.randint(2, 4)]
            del self.in_transit[: len(merged)]
            await self.deliver({"type": "batch", "messages": merged})
            return
        # Mostly in order, sometimes overtaken.
        index = 0 if self.rng.random() < 0.6 else self.rng.randrange(len(self.in_transit))
        await self.deliver(self.in_transit.pop(index))

    async def answer(self, *, now: bool = False) -> None:
        request = self.pending[0]
        if not now and self.rng.random() < 0.07:
            self.failed_on_purpose += 1
            self.note(await answer(self.page, None))
            return
        # The server reads the changes at some moment between the request and now.
        asked_at = self.asked_at[request["number"]]
        at = self.server.revision if now else self.rng.randint(asked_at, self.server.revision)
        self.note(await answer(self.page, self.server.changes(request["since"], at)))

    async def play(self) -> None:
        """The server publishes its whole history while messages and answers race."""
        await self.connect()
        while self.server.revision < len(self.server.history) or self.in_transit:
            roll = self.rng.random()
            if roll < 0.35 and self.server.revision < len(self.server.history):
                self.publish()
            elif roll < 0.7 and self.in_transit:
                await self.deliver_one()
            elif roll < 0.85 and self.pending:
                await self.answer()
            elif roll < 0.95:
                # A heartbeat, which may itself be overtaken by changes.
                self.in_transit.append({"type": "heartbeat", "revision": self.server.revision})
            elif roll < 0.97:
                await self.connect()

    async def settle(self) -> dict:
        """Nothing more is published: heartbeats until the feed has caught up."""
        for _ in range(20):
            snapshot = await self.page.evaluate("snapshot()")
            if self.pending:
                await self.answer(now=True)
            elif snapshot["revision"] == self.server.revision:
                return snapshot
            else:
                await self.deliver({"type": "heartbeat", "revision": self.server.revision})
        raise AssertionError(f"the feed did not catch up: {await self.page.evaluate('snapshot()')}")


@pytest.mark.parametrize("seed", SEEDS)
async def test_shuffled_duplicated_and_lost_messages_end_in_exactly_the_servers_state(
    page: Page, seed: int
):
    rng = random.Random(seed)
    server = ScriptedServer(random_history(rng, HISTORY_LENGTH))
    run = Run(page, server, rng)
    page_revision = rng.randint(0, 8)
    await run.start(page_revision, rendered_at=page_revision + rng.randint(0, 3))

    await run.play()
    final = await run.settle()

    shown = {int(entry_id): headline for entry_id, headline in final["shown"].items()}
    assert shown == server.visible_at(server.revision)
    gone = set(server.entries_at(server.revision)) - set(shown)
    assert gone.isdisjoint(shown)
    assert final["event"]["title"] == server.event_at(server.revision)["title"]
    assert final["revision"] == server.revision
    assert final["held"] == 0
    assert final["restarts"] == 0
    # Only the requests failed on purpose failed (each reported to every message waiting).
    assert set(final["failures"]) <= {"Error: network down"}
    assert bool(final["failures"]) == bool(run.failed_on_purpose)


# The rules, one at a time ----------------------------------------------------------------


async def start(page: Page, revision: int, cards: list[dict] | None = None) -> None:
    await page.evaluate(
        "options => startFeed(options)",
        {"revision": revision, "cards": cards or [], "event": {"title": "Then"}},
    )


async def snapshot(page: Page) -> dict:
    return await page.evaluate("snapshot()")


async def test_a_message_older_than_the_entry_shown_never_overwrites_it(page: Page):
    # The page's revision is 5, but it was rendered a moment later with entry 1 at 7.
    await start(page, 5, [{"id": 1, "revision": 7, "headline": "seventh"}])

    await deliver(page, entry_message("entry.updated", 6, 1, "sixth"))
    await deliver(page, entry_message("entry.updated", 7, 1, "seventh, again"))
    assert (await snapshot(page))["shown"] == {"1": "seventh"}

    await deliver(page, deleted_message(8, 1))
    await deliver(page, entry_message("entry.updated", 6, 1, "sixth, late"))
    now = await snapshot(page)
    assert now["shown"] == {}
    assert now["removed"] == [1]
    assert now["revision"] == 8
    assert now["pending"] == []


async def test_a_heartbeat_ahead_asks_for_the_changes_missed(page: Page):
    await start(page, 3)
    await deliver(page, {"type": "heartbeat", "revision": 5})
    assert [r["since"] for r in (await snapshot(page))["pending"]] == [3]

    await answer(
        page,
        {
            "revision": 5,
            "changes": [entry_message("entry.created", 5, 40, "missed")["entry"]],
            "event": {"title": "Now"},
        },
    )
    now = await snapshot(page)
    assert now["shown"] == {"40": "missed"}
    assert now["event"] == {"title": "Now"}
    assert now["revision"] == 5


async def test_a_hello_brings_what_the_page_missed_without_asking(page: Page):
    await start(page, 3, [{"id": 1, "revision": 2, "headline": "second"}])
    missed = [
        entry_message("entry.updated", 4, 1, "second, corrected")["entry"],
        entry_message("entry.created", 5, 2, "fifth")["entry"],
    ]
    catch_up = {"revision": 5, "changes": missed, "event": {"title": "Now"}}

    await deliver(page, {"type": "hello", "revision": 5, "catch_up": catch_up})

    now = await snapshot(page)
    assert now["shown"] == {"1": "second, corrected", "2": "fifth"}
    assert (now["revision"], now["event"], now["pending"]) == (5, {"title": "Now"}, [])


async def test_a_hello_whose_catch_up_says_reset_starts_again(page: Page):
    await start(page, 9)
    reset = {"revision": 4, "changes": [], "reset": True, "event": {"title": "Then"}}
    await deliver(page, {"type": "hello", "revision": 4, "catch_up": reset})
    now = await snapshot(page)
    assert (now["restarts"], now["pending"]) == (1, [])


async def test_a_plain_hello_behind_the_page_asks_and_starts_again_if_the_server_forgot(
    page: Page,
):
    await start(page, 9)
    await deliver(page, {"type": "hello", "revision": 4})
    assert [request["since"] for request in (await snapshot(page))["pending"]] == [9]

    await answer(page, {"revision": 4, "changes": [], "reset": True, "event": {"title": "Then"}})
    assert (await snapshot(page))["restarts"] == 1


async def test_a_heartbeat_overtaken_by_a_change_does_not_start_again(page: Page):
    # The heartbeat read revision 3; a change numbered 4 reached the reader first.
    await start(page, 3)
    await deliver(page, entry_message("entry.created", 4, 40, "fourth"))
    await deliver(page, {"type": "heartbeat", "revision": 3})
    now = await snapshot(page)
    # It may ask the server to make sure; the server, which knows revision 4, agrees.
    if now["pending"]:
        await answer(page, {"revision": 4, "changes": [], "event": {"title": "Then"}})
    now = await snapshot(page)
    assert now["restarts"] == 0
    assert now["shown"] == {"40": "fourth"}
    assert now["revision"] == 4


async def test_a_heartbeat_behind_a_server_that_forgot_starts_again(page: Page):
    # The database went back (restored): the server is behind the page for good.
    await start(page, 9)
    await deliver(page, {"type": "heartbeat", "revision": 4})
    if (await snapshot(page))["pending"]:
        await answer(
            page, {"revision": 4, "changes": [], "reset": True, "event": {"title": "Then"}}
        )
    assert (await snapshot(page))["restarts"] == 1


async def test_a_catch_up_answer_older_than_the_feed_does_not_bring_back_an_older_event(
    page: Page,
):
    await start(page, 3)
    # A gap: 5 waits for 4, and the feed asks for the changes since 3.
    await deliver(page, event_message(5, "Renamed at 5"))
    assert [r["since"] for r in (await snapshot(page))["pending"]] == [3]
    # 4 arrives before the answer: 4 and 5 are shown, in order.
    await deliver(page, entry_message("entry.created", 4, 40, "fourth"))
    assert (await snapshot(page))["event"] == {"title": "Renamed at 5"}
    # The answer was read at revision 4, before the event was renamed.
    await answer(
        page,
        {
            "revision": 4,
            "changes": [entry_message("entry.created", 4, 40, "fourth")["entry"]],
            "event": {"title": "Then"},
        },
    )
    now = await snapshot(page)
    assert now["event"] == {"title": "Renamed at 5"}
    assert now["revision"] == 5


async def test_a_message_of_a_kind_the_feed_does_not_know_neither_jams_nor_breaks_it(page: Page):
    await start(page, 3)
    # Unnumbered (say, a reader count a later server sends): not a change, ignored.
    assert await deliver(page, {"type": "readers", "count": 12}) == []
    # Numbered, but of a kind it cannot show: its revision passes, nothing else.
    assert await deliver(page, {"type": "entry.annotated", "revision": 4, "note": {}}) == []
    assert await deliver(page, entry_message("entry.created", 5, 50, "fifth")) == []
    now = await snapshot(page)
    assert now["shown"] == {"50": "fifth"}
    assert now["revision"] == 5
    assert now["held"] == 0
    assert now["failures"] == []


async def test_a_batch_is_applied_as_its_changes_one_after_another(page: Page):
    await start(page, 3, [{"id": 10, "revision": 2, "headline": "second"}])

    waiting = await deliver(
        page,
        {
            "type": "batch",
            "messages": [
                entry_message("entry.created", 4, 40, "fourth"),
                entry_message("entry.updated", 5, 10, "second, edited"),
                deleted_message(6, 40),
            ],
        },
    )

    now = await snapshot(page)
    assert waiting == []
    assert now["shown"] == {"10": "second, edited"}
    assert now["removed"] == [40]
    assert now["revision"] == 6


async def test_a_batch_ahead_of_a_gap_is_held_and_the_gap_asked_for(page: Page):
    await start(page, 3)

    waiting = await deliver(
        page,
        {
            "type": "batch",
            "messages": [
                entry_message("entry.created", 5, 50, "fifth"),
                entry_message("entry.created", 6, 60, "sixth"),
            ],
        },
    )
    assert [request["since"] for request in waiting] == [3]
    assert (await snapshot(page))["held"] == 2

    await answer(
        page,
        {
            "revision": 4,
            "changes": [entry_message("entry.created", 4, 40, "fourth")["entry"]],
            "event": {"title": "Then"},
        },
    )
    now = await snapshot(page)
    assert now["shown"] == {"40": "fourth", "50": "fifth", "60": "sixth"}
    assert now["revision"] == 6
    assert now["held"] == 0
