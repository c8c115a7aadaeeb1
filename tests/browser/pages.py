"""What the browser tests do with the live page and the admin, in their words."""

import asyncio
import json
import time
from dataclasses import dataclass, field

from playwright.async_api import Locator, Page, WebSocket, expect

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-GB"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "en-GB",
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


def within(started: float, seconds: float) -> float:
    """An expect() timeout, in ms, for something due `seconds` after `started` (monotonic)."""
    left = seconds - (time.monotonic() - started)
    # Never 0: to Playwright that means no timeout at all.
    return max(1.0, left * 1000)


@dataclass
class Reader:
    """A reader's tab, with every frame its websocket received and every uncaught error."""

    page: Page
    base_url: str
    frames: list[dict] = field(default_factory=list, repr=False)
    errors: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.page.on("websocket", self._watch)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(json.loads(payload)))

    async def open(self, slug: str) -> None:
        await self.page.goto(f"{self.base_url}/live/{slug}/")

    async def wait_until_live(self, timeout: float = 5.0) -> None:
        """Until the websocket said hello: from then on every change is pushed to the page."""
        deadline = time.monotonic() + timeout
        while not self.frames_of("hello"):
            if time.monotonic() > deadline:
                raise AssertionError(f"no hello on the live page's websocket within {timeout} s")
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
        await self.field("body").fill(body)

    async def save(self) -> None:
        """Clicks Save and returns at once; expect_message() waits for the outcome."""
        await self.page.locator("input[name=_save]").click()

    async def open_delete(self, entry_id: int) -> None:
        await self.page.goto(f"{self.base_url}/admin/updates/entry/{entry_id}/delete/")

    async def confirm_delete(self) -> None:
        await self.page.get_by_role("button", name="Yes, I’m sure").click()

    async def expect_message(self, text: str) -> None:
        await expect(self.page.locator(".messagelist .success")).to_contain_text(text)
