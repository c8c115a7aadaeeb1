"""What the browser tests do with the live page and the admin, in their words."""

import asyncio
import html
import json
import re
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.contrib.auth.models import User
from playwright.async_api import (
    APIRequestContext,
    Locator,
    Page,
    WebSocket,
    WebSocketRoute,
    expect,
)
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from updates.models import Entry, Event
from updates.services import entry_delete, entry_publish, entry_update, event_update

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "en-GB",
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


# The event the tests' fixtures make (tests/conftest.py: event).
SLUG = "harbourside"
EVENT_TITLE = "Harbourside by-election"


def within(started: float, seconds: float) -> float:
    """An expect() timeout, in ms, for something due `seconds` after `started` (monotonic)."""
    left = seconds - (time.monotonic() - started)
    # Never 0: to Playwright that means no timeout at all.
    return max(1.0, left * 1000)


# The reader's page against the server's state -------------------------------------------


def text_of(html_fragment: str) -> str:
    """The text a browser shows for a simple fragment like "<p>Queues at 7am.</p>"."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_fragment)).split())


@dataclass(frozen=True)
class ShownEntry:
    id: int
    revision: int
    headline: str
    body: str


@dataclass(frozen=True)
class LiveState:
    """What a reader sees of the event: pinned cards, then the stream, then key events."""

    pinned: tuple[ShownEntry, ...]
    stream: tuple[ShownEntry, ...]
    key_events: tuple[int, ...]

    @classmethod
    def from_api(cls, entries: list[dict]) -> "LiveState":
        """What the page should show, from the API's entries (newest first, one page)."""

        def shown(entry: dict) -> ShownEntry:
            return ShownEntry(
                entry["id"], entry["revision"], entry["headline"], text_of(entry["body"])
            )

        return cls(
            pinned=tuple(shown(entry) for entry in entries if entry["pinned"]),
            stream=tuple(shown(entry) for entry in entries if not entry["pinned"]),
            key_events=tuple(entry["id"] for entry in entries if entry["key_event"]),
        )


READ_CARDS = """cards => cards.map(card => ({
    id: Number(card.dataset.id),
    revision: Number(card.dataset.revision),
    headline: card.querySelector(".entry__headline").textContent.trim(),
    body: card.querySelector(".entry__body").textContent.split(/\\s+/).filter(Boolean).join(" "),
}))"""


# Reader.record_arrivals(). The socket is wrapped to see frames as they arrive, before
# live.js's own handler (listeners run in the order they were added). "painted": a
# requestAnimationFrame callback runs just before the browser renders the frame that
# first holds the card, and a message posted from it runs as the next task, once that
# frame's style, layout and paint are done.
RECORD_ARRIVALS = """(() => {
    const arrivals = (window.__arrivals = {});
    const noted = headline => (arrivals[headline] ??= {frame: null});
    const NativeWebSocket = window.WebSocket;
    window.WebSocket = class extends NativeWebSocket {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", message => {
                const at = Date.now();
                const frame = JSON.parse(message.data);
                for (const each of frame.type === "batch" ? frame.messages : [frame]) {
                    if (each.type !== "entry.created") continue;
                    const arrival = noted(each.entry.headline);
                    if (arrival.inDom === undefined) arrival.frame ??= at;
                }
            });
        }
    };
    new MutationObserver(records => {
        const at = Date.now();
        const added = [];
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.nodeType !== Node.ELEMENT_NODE) continue;
                added.push(...(node.matches("article.entry")
                    ? [node] : node.querySelectorAll("article.entry")));
            }
        }
        const fresh = added
            .map(card => [card, noted(card.querySelector(".entry__headline").textContent.trim())])
            .filter(([, arrival]) => arrival.inDom === undefined);
        if (!fresh.length) return;
        for (const [card, arrival] of fresh) {
            arrival.id = Number(card.dataset.id);
            arrival.inDom = at;
        }
        requestAnimationFrame(() => {
            const after = new MessageChannel();
            after.port1.onmessage = () => {
                const painted = Date.now();
                for (const [, arrival] of fresh) arrival.painted = painted;
            };
            after.port2.postMessage(null);
        });
    }).observe(document, {childList: true, subtree: true});
})()"""


async def server_state(request: APIRequestContext, base_url: str, slug: str) -> LiveState:
    """The event as the API tells it (up to 100 entries: these tests stay on one page)."""
    response = await request.get(f"{base_url}/api/events/{slug}/entries/?limit=100")
    assert response.ok, await response.text()
    answer = await response.json()
    assert answer["next"] is None, "server_state() reads one page of up to 100 entries"
    return LiveState.from_api(answer["entries"])


@dataclass
class Reader:
    """A reader's tab, with every frame its websocket received and every uncaught error."""

    page: Page
    base_url: str
    frames: list[dict] = field(default_factory=list, repr=False)
    errors: list[str] = field(default_factory=list, repr=False)
    sockets: list[WebSocket] = field(default_factory=list, repr=False)
    # When (time.monotonic()) each hello arrived: each time the page got connected.
    hellos_at: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.page.on("websocket", self._watch)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _watch(self, socket: WebSocket) -> None:
        self.sockets.append(socket)
        socket.on("framereceived", self._received)

    def _received(self, payload: str) -> None:
        frame = json.loads(payload)
        if frame.get("type") == "hello":
            self.hellos_at.append(time.monotonic())
        self.frames.append(frame)

    async def open(self, slug: str) -> None:
        await self.page.goto(f"{self.base_url}/live/{slug}/")

    async def wait_until_live(self, timeout: float = 5.0) -> None:
        """Until the websocket said hello: from then on every change is pushed to the page."""
        deadline = time.monotonic() + timeout
        while not self.frames_of("hello"):
            if time.monotonic() > deadline:
                raise AssertionError(f"no hello on the live page's websocket within {timeout} s")
            await asyncio.sleep(0.02)

    async def wait_for_frames(self, kind: str, count: int, timeout: float = 2.0) -> None:
        """Until the websocket has received `count` frames of this type."""
        deadline = time.monotonic() + timeout
        while len(self.frames_of(kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} {kind} frames within {timeout} s")
            await asyncio.sleep(0.02)

    def entry(self, entry_id: int) -> Locator:
        return self.page.locator(f"#entry-{entry_id}")

    def frames_of(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame.get("type") == kind]

    async def ids(self, selector: str) -> list[int]:
        """The entry ids of the cards the selector finds, in page order."""
        return await self.page.locator(selector).evaluate_all(
            "cards => cards.map(card => Number(card.dataset.id))"
        )

    @property
    def connection(self) -> Locator:
        """The connection indicator: "Live", "Reconnecting…", "Updates paused"."""
        return self.page.locator("#connection")

    @property
    def new_updates(self) -> Locator:
        return self.page.locator("#new-updates")

    def pinned_entry(self, entry_id: int) -> Locator:
        return self.page.locator(f"#pinned #entry-{entry_id}")

    def stream_entry(self, entry_id: int) -> Locator:
        return self.page.locator(f"#stream #entry-{entry_id}")

    def key_event(self, entry_id: int) -> Locator:
        return self.page.locator(f'#key-events-list li[data-id="{entry_id}"]')

    async def record_connection_texts(self) -> None:
        """From the next page load on, keep every text the connection indicator shows."""
        await self.page.add_init_script(
            """(() => {
                window.__connectionTexts = [];
                new MutationObserver(() => {
                    const text = document.querySelector("#connection .connection__text");
                    const shown = text && !text.parentNode.hidden ? text.textContent : "";
                    const seen = window.__connectionTexts;
                    if (shown && seen[seen.length - 1] !== shown) seen.push(shown);
                }).observe(document, {
                    subtree: true, childList: true, characterData: true, attributes: true,
                });
            })()"""
        )

    async def connection_texts(self) -> list[str]:
        """The indicator's texts since the page loaded (record_connection_texts() first)."""
        return await self.page.evaluate("window.__connectionTexts")

    async def record_arrivals(self) -> None:
        """From the next page load on, note when each entry first reached the page, by
        headline, in Date.now() ms (the wall clock every page on this machine reads):
        "frame", its entry.created on the socket; "inDom", its card in the document;
        "painted", the first frame rendered with the card in it."""
        await self.page.add_init_script(RECORD_ARRIVALS)

    async def arrival(self, headline: str, timeout: float = 5.0) -> dict:
        """What record_arrivals() noted of the entry, once its card has been painted:
        {"id", "frame", "inDom", "painted"} ("frame" None if the card came before any
        frame of it: the page caught up through the API)."""
        try:
            await self.page.wait_for_function(
                "headline => window.__arrivals[headline]?.painted",
                arg=headline,
                timeout=timeout * 1000,
            )
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{headline!r} was not on the reader's screen within {timeout} s"
            ) from None
        return await self.page.evaluate("headline => window.__arrivals[headline]", headline)

    async def mark(self) -> None:
        """Leave a mark on the window: gone if the page reloads (see was_reloaded())."""
        await self.page.evaluate("window.__notReloaded = true")

    async def was_reloaded(self) -> bool:
        return not await self.page.evaluate("window.__notReloaded === true")

    async def state(self) -> LiveState:
        """What the page shows now, read in one go."""
        shown = await self.page.evaluate(
            f"""() => {{
                const read = {READ_CARDS};
                return {{
                    pinned: read([...document.querySelectorAll("#pinned article.entry")]),
                    stream: read([...document.querySelectorAll("#stream article.entry")]),
                    keyEvents: [...document.querySelectorAll("#key-events-list li")]
                        .map(item => Number(item.dataset.id)),
                }};
            }}"""
        )
        return LiveState(
            pinned=tuple(ShownEntry(**card) for card in shown["pinned"]),
            stream=tuple(ShownEntry(**card) for card in shown["stream"]),
            key_events=tuple(shown["keyEvents"]),
        )

    async def wait_for_state(self, expected: "LiveState", timeout: float) -> float:
        """Until the page shows exactly `expected`; returns the seconds that took."""
        started = time.monotonic()
        while True:
            shown = await self.state()
            if shown == expected:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                assert shown == expected, f"the page did not match the server within {timeout} s"
            await asyncio.sleep(0.02)

    async def reading_position(self) -> dict:
        """window.scrollY, and the first card whose top is in the window, with that top."""
        return await self.page.evaluate(
            """() => {
                const card = [...document.querySelectorAll("article.entry")]
                    .find(card => card.getBoundingClientRect().top >= 0);
                return {
                    scrollY: window.scrollY,
                    id: card && Number(card.dataset.id),
                    top: card && card.getBoundingClientRect().top,
                };
            }"""
        )


async def all_exact(readers: list["Reader"], timeout: float, slug: str = SLUG) -> float:
    """Until every reader's page shows what the API says; returns the seconds that took."""
    started = time.monotonic()
    expected = await server_state(readers[0].page.request, readers[0].base_url, slug)
    for reader in readers:
        left = timeout - (time.monotonic() - started)
        await reader.wait_for_state(expected, timeout=max(0.1, left))
    return time.monotonic() - started


# Newsroom.record_post_clicks(). Capturing on the document: the first listener the click
# reaches, before the form is submitted. event.timeStamp is when the browser took in the
# mouse button's release; stepped back from Date.now() by how long ago that was, the
# click is on the same clock as every other page's Date.now().
RECORD_POST_CLICKS = """document.addEventListener("click", event => {
    if (!event.target.closest?.("#post-button")) return;
    const clickedAt = Date.now() - Math.max(0, performance.now() - event.timeStamp);
    const clicks = JSON.parse(sessionStorage.getItem("liveblog.postClicks") || "{}");
    clicks[document.querySelector("#id_headline").value] = clickedAt;
    sessionStorage.setItem("liveblog.postClicks", JSON.stringify(clicks));
}, true)"""


@dataclass
class Newsroom:
    """A journalist's tab on the admin."""

    page: Page
    base_url: str

    async def log_in(self, username: str, password: str) -> None:
        await self.page.goto(f"{self.base_url}/admin/login/?next=/admin/")
        await self.page.locator("#id_username").fill(username)
        await self.page.locator("#id_password").fill(password)
        await self.page.locator("#login-form [type=submit]").click()
        await expect(self.page).to_have_url(f"{self.base_url}/admin/")

    def field(self, name: str) -> Locator:
        return self.page.locator(f"#id_{name}")

    async def open_new_entry(self) -> None:
        await self.page.goto(f"{self.base_url}/admin/updates/entry/add/")
        await expect(self.field("headline")).to_be_visible()

    async def open_entry(self, entry_id: int) -> None:
        await self.page.goto(f"{self.base_url}/admin/updates/entry/{entry_id}/change/")
        await expect(self.field("headline")).to_be_visible()

    async def fill_entry(self, *, headline: str, body: str, event: str | None = None) -> None:
        if event is not None:
            await self.field("event").select_option(label=event)
        await self.field("headline").fill(headline)
        # The body is a rich-text editor over a hidden textarea, which the form posts:
        # set the textarea, as a paste of raw HTML (or a hostile client) would.
        await self.field("body").evaluate("(textarea, html) => { textarea.value = html; }", body)

    async def save(self) -> None:
        """Clicks Save and returns at once; expect_message() waits for the outcome."""
        await self.page.locator("input[name=_save]").click()

    async def open_delete(self, entry_id: int) -> None:
        await self.page.goto(f"{self.base_url}/admin/updates/entry/{entry_id}/delete/")

    async def confirm_delete(self) -> None:
        await self.page.get_by_role("button", name="Yes, I’m sure").click()

    async def expect_message(self, text: str) -> None:
        await expect(self.page.locator(".messagelist .success")).to_contain_text(text)

    async def post(self, headline: str, event: str = EVENT_TITLE) -> float:
        """Posts a new entry through the admin's form; returns the seconds the save took,
        from clicking Save to the server's answer (the redirect), once the admin says the
        entry was added."""
        await self.open_new_entry()
        await self.fill_entry(event=event, headline=headline, body=f"<p>{headline}: more.</p>")
        async with self.page.expect_response(
            lambda response: response.request.method == "POST", timeout=30_000
        ) as answered:
            clicked = time.monotonic()
            await self.save()
        await answered.value
        seconds = time.monotonic() - clicked
        await self.expect_message("was added successfully")
        return seconds

    async def record_post_clicks(self) -> None:
        """From the next page load on, note when the desk's Post button is clicked, by
        the headline it posts, in Date.now() ms; kept in the tab's sessionStorage, so
        that it outlives the form's submission. post_clicked_at() reads it."""
        await self.page.add_init_script(RECORD_POST_CLICKS)

    async def post_clicked_at(self, headline: str) -> float:
        clicks = await self.page.evaluate(
            "JSON.parse(sessionStorage.getItem('liveblog.postClicks') || '{}')"
        )
        assert headline in clicks, f"no click on Post was noted for {headline!r}"
        return clicks[headline]


class SocketGate:
    """Stands between the page and the server's websocket (Playwright routes it).

    Open, it lets every socket through to the server. cut() closes the page's sockets as
    a dropped connection would, and while shut every new socket is refused (closed
    before it opens, as when the server cannot be reached). Call install() before the
    page is opened.
    """

    def __init__(self) -> None:
        self.is_open = True
        self.connected: list[float] = []  # monotonic times sockets got through
        self.refused = 0
        # Sockets that open but never reach the server, dropped at once: a server that
        # accepts and then fails (say, its database is down).
        self.drop_once_open = False
        self.dropped: list[float] = []
        # What the server sent through the gate, and how many of its next frames to lose
        # on the way (a change lost between server and page).
        self.from_server: list[str | bytes] = []
        self.frames_to_lose = 0
        self._routes: list[WebSocketRoute] = []
        self._tasks: set[asyncio.Task] = set()

    async def install(self, page: Page, pattern: str = "**/ws/**") -> None:
        await page.route_web_socket(pattern, self._route)

    async def _route(self, socket: WebSocketRoute) -> None:
        if not self.is_open:
            self.refused += 1
            # Awaited inside the handler: the page's socket closes without opening.
            await socket.close(code=1006, reason="refused by the test")
            return
        if self.drop_once_open:
            # Not connected to the server: Playwright opens the page's socket once this
            # handler returns; it is closed a moment later, with nothing said.
            self.dropped.append(time.monotonic())
            task = asyncio.get_running_loop().create_task(self._drop(socket))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        server = socket.connect_to_server()
        server.on_message(lambda message: self._from_server(socket, message))
        self._routes.append(socket)
        self.connected.append(time.monotonic())

    def _from_server(self, socket: WebSocketRoute, message: str | bytes) -> None:
        self.from_server.append(message)
        if self.frames_to_lose:
            self.frames_to_lose -= 1
        else:
            socket.send(message)

    def lose(self, frames: int) -> None:
        """Lose the server's next frames on their way to the page."""
        self.frames_to_lose = frames

    async def _drop(self, socket: WebSocketRoute) -> None:
        await asyncio.sleep(0.05)
        await socket.close(code=1011, reason="the server failed")

    async def cut(self) -> None:
        """Drop the page's sockets, and refuse new ones until allow()."""
        self.is_open = False
        routes, self._routes = self._routes, []
        for socket in routes:
            await socket.close(code=1006, reason="cut by the test")

    def allow(self) -> None:
        self.is_open = True


class Desk:
    """The newsroom's writes, through the services as the admin makes them, for async tests.

    Each write runs in a worker thread (database_sync_to_async) and commits there, so its
    on_commit broadcast goes out through Redis to the Daphne processes, as in production.
    """

    def __init__(self, event: Event, author: User) -> None:
        self.event = event
        self.author = author

    async def publish(self, headline: str, body: str = "<p>More soon.</p>", **fields) -> Entry:
        return await database_sync_to_async(entry_publish)(
            event=self.event, author=self.author, headline=headline, body=body, **fields
        )

    async def edit(self, entry: Entry, **changes) -> Entry:
        return await database_sync_to_async(entry_update)(entry=entry, changes=changes)

    async def delete(self, entry: Entry) -> Entry:
        return await database_sync_to_async(entry_delete)(entry=entry)

    async def end_event(self) -> Event:
        return await database_sync_to_async(event_update)(
            event=self.event, changes={"status": Event.Status.ENDED}
        )
