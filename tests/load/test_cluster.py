"""make cluster (deploy/cluster.py) as an operator runs it: nginx in front of gunicorn and two
Daphne processes, on PostgreSQL and Redis. Readers connect through nginx and are spread
over both Daphne processes; a journalist signs in and posts on the desk through nginx,
and every reader receives the entry; /metrics, scraped through nginx during it, sums every
process's counts; Ctrl+C stops every process the command started."""

import asyncio
import json
import os
import re

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from tests.cluster import cluster_start
from tests.test_deploy import Browser, sign_in
from tests.test_metrics import Samples, samples_in, scrape_over_http, total

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

READERS = 40


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def readers_receive(base: str, slug: str, post) -> list[str]:
    """READERS sockets through nginx, as the live page opens them; once each has its
    hello, post(); what each received next."""
    socket_url = base.replace("http", "ws") + f"/ws/live/{slug}/"
    sockets = [await connect(socket_url, origin=base, open_timeout=10) for _ in range(READERS)]
    try:
        for socket in sockets:
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "hello"
        await asyncio.to_thread(post)
        return [await asyncio.wait_for(socket.recv(), 10) for socket in sockets]
    finally:
        for socket in sockets:
            await socket.close()


def metrics_of(base: str) -> Samples:
    status, text = scrape_over_http(base)
    assert status == 200, text
    return samples_in(text)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_make_cluster_spreads_readers_over_two_daphnes_that_all_get_a_post_and_stops_all(
    transactional_db, event, journalist, daphne_env
):
    if connection.vendor != "postgresql":
        pytest.skip("make cluster runs on PostgreSQL: set DATABASE_URL (CI does)")
    cluster = cluster_start(daphne_env)
    try:
        assert {"gunicorn", "daphne-1", "daphne-2", "nginx"} <= cluster.processes.keys()
        browser = Browser()
        status, landed, _ = sign_in(browser, cluster.url)
        assert (status, landed) == (200, cluster.url + "/admin/")

        def post() -> None:
            desk = f"{cluster.url}/admin/updates/event/{event.pk}/desk/"
            form = browser.get(desk)[2]
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
            status, _, page = browser.post(
                desk,
                {
                    "csrfmiddlewaretoken": token,
                    "headline": "Recount called in Eastgate",
                    "body": "<p>The margin was 12 votes.</p>",
                    "byline": "Sam Okafor",
                },
            )
            assert status == 200 and "Published: Recount called in Eastgate" in page, page

        before = metrics_of(cluster.url)
        during: list[Samples] = []

        def post_and_scrape() -> None:
            post()
            during.append(metrics_of(cluster.url))

        frames = asyncio.run(readers_receive(cluster.url, event.slug, post_and_scrape))
        assert all("Recount called in Eastgate" in frame for frame in frames)
        after = metrics_of(cluster.url)
        # Summed over both Daphne processes, each counting its own readers.
        assert total(during[0], "liveblog_readers", event=event.slug) == READERS
        readers_by_pid = [
            dict(labels)["pid"] for name, labels in during[0] if name == "liveblog_readers"
        ]
        assert len(set(readers_by_pid)) == 2
        assert moved(before, after, "liveblog_publishes_total", change="entry.created") == 1
        # Each Daphne process sent it to its readers once, within a second of the commit.
        assert moved(before, after, "liveblog_fan_out_seconds_count") == 2
        assert moved(before, after, "liveblog_commit_to_send_seconds_bucket", le="1.0") == 2
        # The desk's post, answered by one of gunicorn's workers.
        assert moved(before, after, "liveblog_http_requests_total", status="302") >= 1
        assert total(after, "liveblog_readers", event=event.slug) == 0
        # nginx passes the reader's address on: from outside the setting, refused.
        status, text = scrape_over_http(cluster.url, source="127.0.0.2")
        assert status == 403, text
        # nginx sent them to both Daphne processes (least_conn).
        for daphne in ("daphne-1", "daphne-2"):
            assert "WSCONNECT /ws/live/" in cluster.log(daphne), daphne
    finally:
        stopped = cluster.stop()
    assert stopped == 0
    assert [name for name, (pid, _) in cluster.processes.items() if alive(pid)] == []
