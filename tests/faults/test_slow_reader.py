"""A reader that stops reading while large updates keep coming costs the others nothing.

Daphne does not push back on a socket whose peer stopped reading: what the kernel cannot
take waits in Daphne's memory. The ping timeout bounds that wait (the ping sits behind
the queued frames, so no pong comes), after which the reader is dropped and its queue
freed. Meanwhile every other reader must get every update on time.
Here Daphne pings after 2 s and waits 3 s for the pong (production: 20 s and 10 s).
"""

import asyncio
import re
import statistics
import time
from pathlib import Path

import orjson
import pytest

from tests.browser.pages import Desk
from tests.faults.conftest import changes_in, half_open_reader, open_reader
from tests.servers import DaphneServer

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
PING_INTERVAL, PING_TIMEOUT = 2, 3
# Daphne checks its sockets every 2 s.
DROPPED_SECONDS = PING_INTERVAL + 2 + PING_TIMEOUT + 2
OTHER_READERS = 20
PUBLISH_SECONDS = 16
PUBLISH_EVERY = 0.25
BODY_BYTES = 250_000
# On a busy 2-core machine, with 20 readers each taking 1 MB/s.
OTHERS_P99_SECONDS = 1.0
# What Daphne may still grow by once the slow reader is gone: Python's heap settling,
# not another queue (which would grow by ~1 MB a second).
GROWTH_AFTER_DROP_BYTES = 5_000_000


@pytest.fixture
def daphne_options() -> list[str]:
    return ["--ping-interval", str(PING_INTERVAL), "--ping-timeout", str(PING_TIMEOUT)]


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


def disconnected(server: DaphneServer, client_port: int) -> bool:
    return f":{client_port} - - " in server.log() and any(
        f":{client_port} - - " in line and "WSDISCONNECT" in line
        for line in server.log().splitlines()
    )


async def listen(connection, arrivals: dict[int, float]) -> None:
    async for payload in connection:
        for message in changes_in(orjson.loads(payload)):
            if message["type"] == "entry.created":
                arrivals[message["entry"]["id"]] = time.monotonic()


async def test_a_reader_that_stops_reading_is_dropped_and_neither_delays_the_others_nor_grows_daphne(  # noqa: E501
    transactional_db, desk: Desk, reader_server: DaphneServer, timings
):
    pid = reader_server.process.pid
    others = [(await open_reader(reader_server.url, SLUG))[0] for _ in range(OTHER_READERS)]
    arrivals = [{} for _ in others]
    listeners = [
        asyncio.create_task(listen(connection, got))
        for connection, got in zip(others, arrivals, strict=True)
    ]
    slow = half_open_reader(reader_server.url, SLUG, receive_buffer=4096)
    slow_port = slow.getsockname()[1]
    try:
        await asyncio.sleep(0.5)
        before = rss(pid)
        published: dict[int, float] = {}
        samples: list[tuple[float, int]] = []
        dropped_at = None
        started = time.monotonic()
        body = "<p>" + "Results from every ward. " * (BODY_BYTES // 25) + "</p>"
        for number in range(int(PUBLISH_SECONDS / PUBLISH_EVERY)):
            sent = time.monotonic()
            entry = await desk.publish(f"Ward result {number}", body)
            published[entry.pk] = sent
            samples.append((time.monotonic(), rss(pid)))
            if dropped_at is None and disconnected(reader_server, slow_port):
                dropped_at = time.monotonic()
                at_drop = rss(pid)
            await asyncio.sleep(max(0.0, PUBLISH_EVERY - (time.monotonic() - sent)))
        await asyncio.sleep(1.0)
        after = rss(pid)

        missed = [len(set(published) - set(got)) for got in arrivals]
        assert not any(missed), f"readers missed updates: {missed}"
        assert dropped_at is not None, "the slow reader was never dropped"
        timings("slow reader: stopped reading -> dropped by Daphne", dropped_at - started)
        assert dropped_at - started <= DROPPED_SECONDS
        peak = max(value for _, value in samples)
        print(
            f"Daphne RSS: {before / 1e6:.1f} MB before, {at_drop / 1e6:.1f} MB when the slow "
            f"reader was dropped, {peak / 1e6:.1f} MB at most, {after / 1e6:.1f} MB after; "
            f"{len(published)} updates of {len(body) / 1e3:.0f} kB"
        )
        assert after - at_drop <= GROWTH_AFTER_DROP_BYTES

        latencies = [
            got[entry_id] - sent for got in arrivals for entry_id, sent in published.items()
        ]
        p50 = statistics.median(latencies)
        p99 = statistics.quantiles(latencies, n=100)[98]
        timings("other readers' latency while the slow reader was queued to, p50", p50)
        timings("other readers' latency while the slow reader was queued to, p99", p99)
        assert p99 <= OTHERS_P99_SECONDS
    finally:
        slow.close()
        for task in listeners:
            task.cancel()
        for connection in others:
            await connection.close()
