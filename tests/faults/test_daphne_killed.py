"""A Daphne process killed under many readers, and started again on its port.

Ten readers' pages and three hundred raw websocket readers are on the reader's Daphne
when it is SIGKILLed (no close frames: a crash, the OOM killer); the journalist keeps
posting through the newsroom's Daphne; the reader's Daphne comes back on the same port.
Every page must show exactly what was published, without a reload, and the readers
must come back spread out by their jittered backoff, not as one stampede.
"""

import asyncio
import statistics
import time

import pytest

from tests.browser.pages import Newsroom, all_exact
from tests.faults.conftest import RawReaders
from updates.models import Event

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PAGES = 10
RAW_READERS = 300
# The backoff doubles while the server is away (0.5-1 s, 1-2 s, 2-4 s, 4-8 s..., at
# most 30 s): a wait begun just before the server returns may be up to twice the time
# it was away. Then hello and the catch-up, on a busy machine.
CAUGHT_UP_SECONDS = 8.0
# With a fixed delay every reader that lost its socket together would be back within
# a few milliseconds of each other; the jitter spreads them over seconds.
MIN_SPREAD_SECONDS = 0.5


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    # Every reader here is 127.0.0.1: lift the per-address budgets (updates/ratelimit.py).
    return {
        "RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE": "100000",
        "RATE_LIMIT_API_PER_MINUTE": "100000",
    }


def spread(times: list[float]) -> float:
    return max(times) - min(times)


async def test_after_a_daphne_is_killed_and_restarted_every_reader_converges_and_they_come_back_spread_out(  # noqa: E501
    transactional_db,
    journalist,
    earlier_entry,
    restartable_reader_server,
    newsroom: Newsroom,
    open_live_pages,
    timings,
):
    pages = await open_live_pages(restartable_reader_server.url, PAGES)
    raw = RawReaders(restartable_reader_server.url, RAW_READERS)
    await raw.start()
    try:
        await newsroom.log_in("sam", "correct horse battery")

        restartable_reader_server.kill()
        killed = time.monotonic()
        for number in range(3):
            await newsroom.post(f"Posted while the readers' server was down ({number})")
        await asyncio.to_thread(restartable_reader_server.start)
        restarted = time.monotonic()
        down = restarted - killed
        timings(f"Daphne killed under {PAGES} pages and {RAW_READERS} readers: down for", down)
        converged_seconds = min(2 * down, 30) + CAUGHT_UP_SECONDS

        seconds = await all_exact(pages, timeout=converged_seconds)
        timings("Daphne serving again -> every page exact", seconds)
        revision = (await Event.objects.aget(slug="harbourside")).revision
        await raw.wait(
            lambda: all(known == revision for known in raw.revisions),
            timeout=converged_seconds,
            what=f"every raw reader at revision {revision}",
        )
        timings(
            "Daphne serving again -> every raw reader at the latest revision",
            time.monotonic() - restarted,
        )

        page_returns = [next(at for at in page.hellos_at if at > killed) for page in pages]
        raw_returns = [next(at for at in hellos if at > killed) for hellos in raw.hellos_at]
        for what, returns in {"pages": page_returns, "raw readers": raw_returns}.items():
            after = [at - restarted for at in returns]
            timings(f"{what}: Daphne serving again -> first back", min(after))
            timings(f"{what}: Daphne serving again -> median back", statistics.median(after))
            timings(f"{what}: Daphne serving again -> last back", max(after))
            assert spread(returns) >= MIN_SPREAD_SECONDS, f"the {what} came back all at once"
        for page in pages:
            assert not await page.was_reloaded()
            assert page.errors == []
    finally:
        await raw.stop()
