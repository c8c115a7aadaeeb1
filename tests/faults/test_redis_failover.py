"""Redis's primary killed (SIGKILL) under readers and a journalist posting, with Redis run
as production runs it with Sentinel: a primary, a replica and three Sentinels (quorum 2),
each a process of the test's own (tests/faults/conftest.py), the app finding the primary
through them (REDIS_SENTINELS, liveblog/backends.py). make cluster's nginx, gunicorn and
two Daphne processes serve (issue 19).

Once the Sentinels have promoted the replica, every process delivers again by itself:
gunicorn's next publish goes to the new primary, and each Daphne process's subscription
(channels-redis's pub/sub layer on redis-py) connects again, asks the Sentinels, and
subscribes on the new primary. Changes published meanwhile reach nobody live; the
heartbeat's revision tells the readers, who catch up. Nothing committed is lost.

The readers: raw websocket readers on each Daphne process, to see each process deliver
again, and readers' pages in Chromium through nginx, whose live.js catches up by itself:
each ends showing exactly what the API has, without a reload.
"""

import asyncio
import time
from collections.abc import Iterator

import pytest
from channels.db import database_sync_to_async

from tests.browser.pages import SLUG, all_exact
from tests.cluster import PROCESS_LINE, Cluster, cluster_start
from tests.faults.conftest import RawReaders, RedisWithSentinels
from tests.faults.test_database_down import Desk, get_json
from tests.test_deploy import Browser
from updates.models import Event

pytestmark = pytest.mark.faults

READERS_PER_PROCESS = 25
PAGES = 4
HEARTBEAT_SECONDS = 2
# Sentinel takes the primary for down after 1 s without an answer (down-after-milliseconds),
# agrees, elects a leader and promotes the replica: a few seconds.
PROMOTED_SECONDS = 15
# Each Daphne process's receive loop tries again a second after a failed read; a publish
# while there is no primary gives up after 2 s (updates/live/delivery.py).
DELIVERING_SECONDS = 20
PUSHED_SECONDS = 10
# A page that missed changes sees the gap at the next heartbeat (HEARTBEAT_SECONDS) or
# change, and asks changes/ for what it missed.
PAGES_EXACT_SECONDS = 15
# Publishing gives up after 2 s; the rest is the save itself, on a busy machine.
SAVE_SECONDS = 5
# Between two posts while waiting for the processes to deliver again.
POST_EVERY_SECONDS = 0.5


@pytest.fixture
def redis_url(redis_with_sentinels: RedisWithSentinels) -> str:
    """The primary's database, for the Daphne fixtures (tests/conftest.py daphne_env)."""
    return redis_with_sentinels.env()["REDIS_URL"]


@pytest.fixture
def cluster(redis_with_sentinels: RedisWithSentinels, daphne_env) -> Iterator[Cluster]:
    running = cluster_start(
        daphne_env | redis_with_sentinels.env() | {"LIVE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}
    )
    try:
        yield running
    finally:
        assert running.stop() == 0


async def test_after_the_primary_is_killed_every_process_delivers_again_by_itself(
    redis_with_sentinels: RedisWithSentinels,
    earlier_entry,
    cluster: Cluster,
    open_live_pages,
    timings,
):
    # The test's own event (one entry), not the demo's: pages and API compared entry by
    # entry (all_exact) need entries whose text the page shows as the API gives it.
    servers = redis_with_sentinels
    event_id = earlier_entry.event_id
    desk = Desk(cluster.url, "".join(cluster.said), event_id)
    pages = await open_live_pages(cluster.url, PAGES)
    # Each process's raw readers apart (straight to its port, not through nginx), so that
    # each process is seen to deliver.
    daphnes = {
        name: RawReaders(f"http://127.0.0.1:{port}", READERS_PER_PROCESS, slug=SLUG)
        for name, port in daphne_ports(cluster).items()
    }
    readers = list(daphnes.values())
    for each in readers:
        await each.start()
    posted: list[str] = []
    saves: list[float] = []

    async def post(headline: str) -> int:
        """Posts on the desk; the event's revision after it."""
        form = await asyncio.to_thread(desk.form, headline, f"<p>{headline}.</p>")
        started = time.monotonic()
        status, page = await asyncio.to_thread(desk.send, form)
        saves.append(since(started))
        assert status == 200 and f"Published: {headline}" in page, page[:2000]
        posted.append(headline)
        return await revision_of(event_id)

    try:
        before = await post("Polls open")
        await pushed_to_all(readers, before)

        await asyncio.to_thread(servers.primary.kill)
        killed_at = time.monotonic()

        async def promoted() -> float:
            assert await asyncio.to_thread(servers.wait_until_promoted, PROMOTED_SECONDS) == (
                servers.replicas[0].port
            )
            return since(killed_at)

        promotion = asyncio.create_task(promoted())

        # The journalist keeps posting; each save succeeds, delivered or not.
        delivering_again: dict[str, float] = {}
        deadline = killed_at + DELIVERING_SECONDS
        while len(delivering_again) < len(daphnes):
            assert time.monotonic() < deadline, f"only {sorted(delivering_again)} deliver again"
            await post(f"Count under way {len(posted)}")
            for name, each in daphnes.items():
                if name not in delivering_again and (at := first_pushed_after(each, before)):
                    delivering_again[name] = at
            await asyncio.sleep(POST_EVERY_SECONDS)
        timings("primary killed -> replica promoted", await promotion)
        # A save waits at most the publish's 2 s for a primary that is not there.
        timings("the slowest save while failing over", max(saves[1:]))
        assert max(saves[1:]) < SAVE_SECONDS
        timings(
            "primary killed -> first change delivered live",
            min(delivering_again.values()) - killed_at,
        )
        timings(
            "primary killed -> every Daphne process delivering again",
            max(delivering_again.values()) - killed_at,
        )

        # Delivering again, to every reader: the last post is pushed to each.
        latest = await post("Turnout at 64%")
        await pushed_to_all(readers, latest)
        # A reader that missed changes meanwhile sees the gap (a heartbeat's or the next
        # change's revision ahead of its own) and asks for what it missed (docs/api.md):
        # what the answer holds makes it exact.
        asked = {since_asked(pushed, before) for each in readers for pushed in each.pushed}
        for since_revision in asked:
            caught_up = await asyncio.to_thread(
                get_json, desk.browser, f"{api_url(cluster)}changes/?since={since_revision}"
            )
            assert caught_up["revision"] == latest
            assert {change["revision"] for change in caught_up["changes"]} == set(
                range(since_revision + 1, latest + 1)
            )
        timings("primary killed -> every raw reader's gap filled by changes/", since(killed_at))
        await all_exact(pages, timeout=PAGES_EXACT_SECONDS)
        timings(f"primary killed -> all {PAGES} pages exact", since(killed_at))
        assert [await page.was_reloaded() for page in pages] == [False] * PAGES
        missed = set().union(
            *(
                set(range(before + 1, latest + 1)) - pushed.keys()
                for each in readers
                for pushed in each.pushed
            )
        )
        print(f"{len(posted) - 1} posts after the kill, {len(missed)} not pushed to every reader")
        # Nobody's socket was closed: one hello each, all along.
        for each in readers:
            assert [len(hellos) for hellos in each.hellos_at] == [1] * each.count
    finally:
        for each in readers:
            await each.stop()

    # Nothing committed was lost, and the cluster says it is ready again.
    entries = await asyncio.to_thread(
        get_json, desk.browser, f"{api_url(cluster)}entries/?order=newest&limit=100"
    )
    headlines = [entry["headline"] for entry in entries["entries"]]
    for headline in posted:
        assert headlines.count(headline) == 1, (headline, headlines)
    status, _, body = await asyncio.to_thread(Browser().get, f"{cluster.url}/readyz")
    assert status == 200, body


def daphne_ports(cluster: Cluster) -> dict[str, int]:
    """Each Daphne process's port, as make cluster printed it."""
    printed = (PROCESS_LINE.match(line) for line in cluster.said)
    ports = {each[1]: int(each[2]) for each in printed if each and each[1].startswith("daphne-")}
    assert len(ports) == 2, cluster.said
    return ports


@database_sync_to_async
def revision_of(event_id: int) -> int:
    return Event.objects.values_list("revision", flat=True).get(pk=event_id)


def api_url(cluster: Cluster) -> str:
    return f"{cluster.url}/api/events/{SLUG}/"


def since(started: float) -> float:
    return time.monotonic() - started


def since_asked(pushed: dict[int, float], before: int) -> int:
    """The revision a reader asks changes since: the last of those pushed to it without
    a gap after `before`."""
    revision = before
    while revision + 1 in pushed:
        revision += 1
    return revision


def first_pushed_after(readers: RawReaders, revision: int) -> float | None:
    """When any of the readers first had a change newer than revision pushed to it."""
    times = [at for pushed in readers.pushed for seen, at in pushed.items() if seen > revision]
    return min(times, default=None)


async def pushed_to_all(readers: list[RawReaders], revision: int) -> None:
    """Until every reader has had the change of that revision pushed to it."""
    for each in readers:
        await each.wait(
            lambda each=each: all(revision in pushed for pushed in each.pushed),
            PUSHED_SECONDS,
            f"revision {revision} pushed to every reader",
        )
