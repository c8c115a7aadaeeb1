"""make cluster (deploy/cluster.py) as an operator runs it: nginx in front of gunicorn and two
Daphne processes, on PostgreSQL and Redis. Readers connect through nginx and are spread
over both Daphne processes; a journalist signs in and posts on the desk through nginx,
and every reader receives the entry; Ctrl+C stops every process the command started."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from websockets.asyncio.client import connect

from tests.servers import free_port
from tests.test_deploy import Browser, sign_in

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

READERS = 40
START_SECONDS = 90.0
STOP_SECONDS = 15.0
PROCESS_LINE = re.compile(r"^  (\S+)\s+port (\d+)\s+pid (\d+)\s+log (\S+)$")


def started(cluster: subprocess.Popen, port: int) -> dict[str, tuple[int, str]]:
    """Reads the command's output until it serves: each process's pid and log."""
    processes: dict[str, tuple[int, str]] = {}
    deadline = time.monotonic() + START_SECONDS
    serving = False
    assert cluster.stdout is not None
    for line in cluster.stdout:
        if time.monotonic() > deadline:
            break
        if line.startswith(f"Serving http://127.0.0.1:{port}/"):
            serving = True
        elif serving and (match := PROCESS_LINE.match(line.rstrip("\n"))):
            name, _, pid, log = match.groups()
            processes[name] = (int(pid), log)
            if name == "nginx":  # the last one started
                return processes
    raise AssertionError(f"make cluster did not start; it exited {cluster.poll()}")


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


def test_make_cluster_spreads_readers_over_two_daphnes_that_all_get_a_post_and_stops_all(
    transactional_db, event, journalist, daphne_env
):
    if connection.vendor != "postgresql":
        pytest.skip("make cluster runs on PostgreSQL: set DATABASE_URL (CI does)")
    port = free_port()
    cluster = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster"],
        env=daphne_env | {"CLUSTER_PORT": str(port), "CLUSTER_DAPHNES": "2"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        processes = started(cluster, port)
        assert {"gunicorn", "daphne-1", "daphne-2", "nginx"} <= processes.keys()
        base = f"http://127.0.0.1:{port}"
        browser = Browser()
        status, landed, _ = sign_in(browser, base)
        assert (status, landed) == (200, base + "/admin/")

        def post() -> None:
            desk = f"{base}/admin/updates/event/{event.pk}/desk/"
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

        frames = asyncio.run(readers_receive(base, event.slug, post))
        assert all("Recount called in Eastgate" in frame for frame in frames)
        # nginx sent them to both Daphne processes (least_conn).
        for daphne in ("daphne-1", "daphne-2"):
            with open(processes[daphne][1]) as log:
                assert "WSCONNECT /ws/live/" in log.read(), daphne

        cluster.send_signal(signal.SIGINT)
        assert cluster.wait(timeout=STOP_SECONDS) == 0
        assert [name for name, (pid, _) in processes.items() if alive(pid)] == []
    finally:
        if cluster.poll() is None:
            cluster.terminate()  # it stops what it started, as for Ctrl+C
            cluster.wait(timeout=STOP_SECONDS)
        cluster.stdout.close()
