"""A reader that stops answering, without closing, is dropped and forgotten.

Daphne pings each socket after --ping-interval seconds without a message from it and
drops one that has not answered within --ping-timeout (liveblog/server.py sets both).
A dropped reader leaves its process's delivery, which the desk's reader count shows.
Here they are 8 s and 2 s, long enough for the reader to be counted first (presence
writes counts every 5 s); production's are 20 s and 10 s.
"""

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.faults.conftest import (
    RedisServer,
    half_open_reader,
    open_reader,
    readers_reported,
    socket_url,
)
from tests.servers import DaphneServer

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
PING_INTERVAL, PING_TIMEOUT = 8, 2
# Daphne checks its sockets every 2 s; presence writes counts every 5 s.
FORGOTTEN_SECONDS = PING_INTERVAL + 2 + PING_TIMEOUT + 5 + 3

CLIENT = """
import asyncio, sys, websockets

async def main():
    async with websockets.connect(sys.argv[1], origin=sys.argv[2], ping_interval=None) as ws:
        await ws.recv()
        print("connected", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


@pytest.fixture
def daphne_options() -> list[str]:
    return ["--ping-interval", str(PING_INTERVAL), "--ping-timeout", str(PING_TIMEOUT)]


@pytest.fixture
def stopped_client_process() -> Iterator[Callable[[str], subprocess.Popen]]:
    """start(base_url): a reader in a process of its own, connected, then SIGSTOPped."""
    processes: list[subprocess.Popen] = []

    def start(base_url: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", CLIENT, socket_url(base_url, SLUG), base_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        line = process.stdout.readline()  # the client prints once it had hello, or dies
        assert line.strip() == "connected", f"the client said {line!r}"
        process.send_signal(signal.SIGSTOP)
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(timeout=5)
        process.stdout.close()


def server_closed(sock: socket.socket) -> bool:
    """Whether the server has closed the socket: reading what it sent ends in EOF or a reset."""
    sock.settimeout(2)
    try:
        for _ in range(10_000):
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


async def wait_for_count(
    redis_server: RedisServer, event_id: int, pid: int, count: int, timeout: float
) -> float:
    started = time.monotonic()
    while readers_reported(redis_server, event_id, pid) != count:
        assert time.monotonic() - started < timeout, (
            f"the process reported {readers_reported(redis_server, event_id, pid)} readers, "
            f"not {count}, for {timeout} s"
        )
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("peer", ["a socket that never reads", "a client process stopped"])
async def test_a_reader_that_stops_answering_is_dropped_by_the_ping_timeout_and_forgotten(
    transactional_db,
    event,
    reader_server: DaphneServer,
    redis_server: RedisServer,
    stopped_client_process,
    peer: str,
    timings,
):
    healthy, _ = await open_reader(reader_server.url, SLUG)
    if peer == "a socket that never reads":
        silent = half_open_reader(reader_server.url, SLUG)
    else:
        silent = stopped_client_process(reader_server.url)
    try:
        pid = reader_server.process.pid
        await wait_for_count(redis_server, event.pk, pid, 2, timeout=PING_INTERVAL)
        counted = time.monotonic()
        await wait_for_count(redis_server, event.pk, pid, 1, timeout=FORGOTTEN_SECONDS)
        timings(f"{peer}: counted -> dropped and uncounted", time.monotonic() - counted)

        if isinstance(silent, socket.socket):
            assert server_closed(silent), "the server did not close the silent reader's socket"
        # The reader that answers pings is still there.
        assert healthy.close_code is None
    finally:
        await healthy.close()
        if isinstance(silent, subprocess.Popen):
            silent.kill()
        else:
            silent.close()
