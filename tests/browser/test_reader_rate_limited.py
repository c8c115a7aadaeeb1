"""A reader whose address has used up its websocket connects still follows the event."""

import re
import time

import pytest
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, within

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
POLL_SECONDS = 1
POLLED_SECONDS = POLL_SECONDS + 2.0


# What the page's sockets did (after the reload: an init script runs again on each load),
# for the message of the assertion that the page backed off: how the refused one closed.
RECORD_SOCKETS = """(() => {
    const log = (window.__sockets = []);
    const NativeWebSocket = window.WebSocket;
    window.WebSocket = class extends NativeWebSocket {
        constructor(...args) {
            super(...args);
            log.push(`${performance.now() | 0} ms: opened ${args[0]}`);
            this.addEventListener("close", (event) => log.push(
                `${performance.now() | 0} ms: closed ${event.code} ${event.reason}`));
        }
    };
})()"""


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    # One connect a minute from 127.0.0.1: the first page load uses it up.
    return {"LIVE_POLL_SECONDS": str(POLL_SECONDS), "RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE": "1"}


async def test_a_rate_limited_reader_backs_off_and_follows_changes_by_polling(
    transactional_db, desk: Desk, earlier_entry, reader: Reader
):
    await reader.page.add_init_script(RECORD_SOCKETS)
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.page.reload()  # a second connect within the minute: closed with 4029
    await expect(reader.connection).to_have_text(re.compile("Reconnecting"))
    code = await reader.page.evaluate(
        """() => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws/live/harbourside/`);
            socket.onclose = (event) => resolve(event.code);
        })"""
    )
    assert code == 4029

    published = time.monotonic()
    entry = await desk.publish("Turnout passes 40 per cent", "<p>A result by 2am.</p>")
    await expect(reader.stream_entry(entry.pk)).to_be_visible(
        timeout=within(published, POLLED_SECONDS)
    )
    # Backed off past the quick retries (4 s at least): no socket since the refused one
    # but the test's own.
    assert len(reader.sockets) == 3, await reader.page.evaluate("window.__sockets")
