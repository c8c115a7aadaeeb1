"""A Daphne process killed under many readers, and started again on its port.

Ten readers' pages and three hundred raw websocket readers are on the reader's Daphne
when it is SIGKILLed (no close frames: a crash, the OOM killer); the journalist keeps
posting through the newsroom's Daphne; the reader's Daphne comes back on the same port.
Every page must show exactly what was published, without a reload, and the readers
must come back spread out by their jittered backoff, not as one stampede.

Then the production shape (make cluster, deploy/cluster.py): one of two Daphne processes
behind nginx is killed under as many readers, all connected through nginx, while the
newsroom publishes; the dead one's readers reconnect through nginx to the survivor, and
every page and every raw reader ends on exactly what the server has.

And a deploy's rolling restart there: 1,000 readers connected through nginx while the
newsroom publishes every 300 ms; each process is stopped (SIGTERM, as systemd does) and
started again on its port, the second once the first serves again. Readers cut off
reconnect through nginx to whichever process serves, and nothing is lost.
"""

import asyncio
import os
import signal
import statistics
import time

import pytest
from django.db import connection

from bench import storm
from tests.browser.pages import Desk, Newsroom, all_exact
from tests.cluster import cluster_start
from tests.faults.conftest import RawReaders
from tests.test_metrics import samples_in, scrape_over_http, total
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
# Readers of a process killed behind nginx wait their first backoff (0.5 to 1 s), then
# reconnect through nginx, which finds the survivor, and catch up; on a busy machine.
THROUGH_THE_SURVIVOR_SECONDS = 15.0
# A rolling restart: readers, a publish every ROLL_PUBLISH_SECONDS; after the last
# restart a reader cut off waits its backoff, reconnects and is sent what it missed.
ROLL_READERS = 1000
ROLL_PUBLISH_SECONDS = 0.3
ROLLED_WITHIN_SECONDS = 60.0
ROLL_CAUGHT_UP_SECONDS = 20.0


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    # Every reader here is 127.0.0.1: lift the per-address budgets (updates/ratelimit.py).
    return storm.UNREACHED_RATE_LIMITS


async def at_the_latest_revision(raw: RawReaders, timeout: float) -> None:
    revision = (await Event.objects.aget(slug="harbourside")).revision
    await raw.wait(
        lambda: all(known == revision for known in raw.revisions),
        timeout=timeout,
        what=f"every raw reader at revision {revision}",
    )


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
        await at_the_latest_revision(raw, timeout=converged_seconds)
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


async def test_a_daphne_killed_behind_nginx_leaves_every_reader_exact_through_the_survivor(
    transactional_db, earlier_entry, daphne_env, open_live_pages, desk: Desk, timings
):
    if connection.vendor != "postgresql":
        pytest.skip("make cluster runs on PostgreSQL: set DATABASE_URL (CI does)")
    cluster = await asyncio.to_thread(cluster_start, daphne_env)
    raw = RawReaders(cluster.url, RAW_READERS)
    try:
        pages = await open_live_pages(cluster.url, PAGES)
        await raw.start()
        await desk.publish("Polls close at 10pm")
        # nginx spread them over both processes (least_conn): the kill cuts off readers.
        for daphne in ("daphne-1", "daphne-2"):
            assert "WSCONNECT /ws/live/" in cluster.log(daphne), daphne

        os.kill(cluster.processes["daphne-1"][0], signal.SIGKILL)
        killed = time.monotonic()
        for number in range(3):
            await desk.publish(f"Posted as a Daphne process died ({number})")
            await asyncio.sleep(0.3)

        seconds = await all_exact(pages, timeout=THROUGH_THE_SURVIVOR_SECONDS)
        timings(f"a Daphne of two killed under {PAGES} pages -> every page exact", seconds)
        await at_the_latest_revision(raw, timeout=THROUGH_THE_SURVIVOR_SECONDS)
        timings(
            f"a Daphne of two killed under {RAW_READERS} raw readers -> all at the latest revision",
            time.monotonic() - killed,
        )
        # /metrics counts the survivor's readers, not those the killed one had.
        status, text = await asyncio.to_thread(scrape_over_http, cluster.url)
        assert status == 200
        readers = samples_in(text)
        assert total(readers, "liveblog_readers") == PAGES + RAW_READERS
        assert {dict(labels)["pid"] for name, labels in readers if name == "liveblog_readers"} == {
            str(cluster.processes["daphne-2"][0])
        }
    finally:
        await raw.stop()
        await asyncio.to_thread(cluster.stop)


async def test_a_rolling_restart_of_both_daphnes_behind_nginx_loses_nothing(
    transactional_db, earlier_entry, daphne_env, desk: Desk, timings
):
    if connection.vendor != "postgresql":
        pytest.skip("make cluster runs on PostgreSQL: set DATABASE_URL (CI does)")
    storm.fanout.raise_fd_limit()  # a thousand sockets here, and as many in nginx
    cluster = await asyncio.to_thread(cluster_start, daphne_env)
    before = {name: pid for name, (pid, _) in cluster.processes.items()}
    raw = RawReaders(cluster.url, ROLL_READERS)
    published = 0

    async def keep_publishing() -> None:
        nonlocal published
        while True:
            published += 1
            await desk.publish(f"Update {published} during the deploy")
            await asyncio.sleep(ROLL_PUBLISH_SECONDS)

    try:
        await raw.start(timeout=60)
        publishing = asyncio.create_task(keep_publishing())
        started = time.monotonic()
        cluster.command.send_signal(signal.SIGHUP)
        await asyncio.to_thread(
            cluster.wait_until_said, "Every Daphne process restarted", ROLLED_WITHIN_SECONDS
        )
        timings(
            f"rolling restart of 2 Daphne processes under {ROLL_READERS} readers",
            time.monotonic() - started,
        )
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        for daphne in ("daphne-1", "daphne-2"):
            assert cluster.processes[daphne][0] != before[daphne], daphne

        caught_up = time.monotonic()
        await at_the_latest_revision(raw, timeout=ROLL_CAUGHT_UP_SECONDS)
        timings(
            f"{published} published meanwhile; every reader at the latest",
            time.monotonic() - caught_up,
        )
        # Each reader was cut off once or twice and came back.
        assert all(len(hellos) >= 2 for hellos in raw.hellos_at)
    finally:
        await raw.stop()
        await asyncio.to_thread(cluster.stop)
