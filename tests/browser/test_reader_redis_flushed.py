"""Redis forgets every group member (a restart or a flush) while readers are connected."""

import time

import pytest
import redis
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, within

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
HEARTBEAT_SECONDS = 2
# One heartbeat to reveal the gap, then the catch-up request.
CONVERGED_SECONDS = HEARTBEAT_SECONDS + 3.0


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"LIVE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}


async def test_after_redis_forgets_the_groups_readers_catch_up_and_are_pushed_to_again(
    transactional_db, desk: Desk, earlier_entry, reader: Reader, redis_url, timings
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.mark()

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()  # every process's group membership is gone
    lost = await desk.publish("Sent while Redis forgot", "<p>Nobody was subscribed.</p>")
    published = time.monotonic()

    await expect(reader.entry(lost.pk)).to_be_visible(timeout=within(published, CONVERGED_SECONDS))
    timings(
        "Redis flushed, change lost -> shown by heartbeat catch-up", time.monotonic() - published
    )

    # The heartbeat also renewed the process's subscription: pushed live again.
    pushed = await desk.publish("Pushed again", "<p>Subscribed again.</p>")
    published = time.monotonic()
    await expect(reader.entry(pushed.pk)).to_be_visible(timeout=within(published, 2.0))
    assert any(
        frame.get("type") == "entry.created" and frame["entry"]["id"] == pushed.pk
        for frame in reader.frames
    )
    assert not await reader.was_reloaded()
