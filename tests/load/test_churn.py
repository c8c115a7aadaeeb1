"""Readers connecting and leaving for a minute: what they held in Daphne goes with them."""

import multiprocessing
import time

import pytest

from bench import storm
from tests.load.churn import churn_main
from tests.load.conftest import server_errors

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 100  # readers at a time
WARM_UP_SECONDS = 15
CHURN_SECONDS = 60
# Daphne's disconnect clean-up (leaving the delivery) runs once the socket is gone.
SETTLE_SECONDS = 3
# Python keeps what its allocator grew during the warm-up (same concurrency), so the
# baseline already holds the pools; what is left above it is what readers leaked: 16 MiB
# is what a few hundred of the thousands of readers would leave behind if none of theirs
# were freed (bench/fanout.py measures what a connected reader holds).
TOLERANCE_KIB = 16 * 1024
AT_LEAST_CONNECTIONS = 2000


def churn(server_url: str, slug: str, seconds: float, rss_of: int) -> tuple[int, int, int]:
    """Runs readers coming and going for `seconds`; returns (opened, failed, peak VmRSS KiB)."""
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    url = server_url.replace("http://", "ws://") + f"/ws/live/{slug}/"
    process = context.Process(
        target=churn_main, args=(child, url, CONCURRENCY, seconds), daemon=True
    )
    process.start()
    child.close()
    peak = 0
    try:
        deadline = time.monotonic() + seconds + 60
        while not conn.poll(0.5):
            peak = max(peak, storm.fanout.vm_rss_kib(rss_of))
            assert time.monotonic() < deadline, "the churning readers did not finish"
        message = conn.recv()
        assert message[0] == "done", message
        return message[1], message[2], peak
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=10)


def test_readers_coming_and_going_leave_daphnes_memory_where_it_was(reader_server, event, timings):
    pid = reader_server.process.pid
    churn(reader_server.url, event.slug, WARM_UP_SECONDS, pid)
    time.sleep(SETTLE_SECONDS)
    before = storm.fanout.vm_rss_kib(pid)

    opened, failed, peak = churn(reader_server.url, event.slug, CHURN_SECONDS, pid)
    time.sleep(SETTLE_SECONDS)
    after = storm.fanout.vm_rss_kib(pid)

    print(
        f"{opened} readers came and went ({failed} handshakes failed); Daphne's VmRSS "
        f"before {before / 1024:.1f} MiB, peak {peak / 1024:.1f}, after {after / 1024:.1f}"
    )
    timings(f"churn: {opened} connections in", CHURN_SECONDS)
    assert opened >= AT_LEAST_CONNECTIONS
    assert failed == 0
    assert after - before <= TOLERANCE_KIB
    assert server_errors(reader_server) == []
