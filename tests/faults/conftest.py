"""Fault fixtures: a private redis-server per test that the test can kill, restart,
freeze or pause, and helpers for raw websocket readers.

The Daphne fixtures (tests/conftest.py) take their Redis from `redis_url`, which this
module overrides with the test's own server; the Chromium fixtures come from
tests/browser/conftest.py.
"""

import asyncio
import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
import websockets

from tests.browser.conftest import (  # noqa: F401  (fixtures used by the fault tests)
    browser,
    desk,
    earlier_entry,
    newsroom,
    reader,
    restartable_reader,
)
from tests.browser.pages import DESKTOP, SLUG, Reader
from tests.servers import free_port, wait_for
from updates import cache_keys

REDIS_START_SECONDS = 10.0
REDIS_STOP_SECONDS = 5.0


class RedisServer:
    """A redis-server of the test's own, on a port that stays the same across restarts."""

    def __init__(self, log_dir: Path, *options: str) -> None:
        """options: more of redis-server's command line (e.g. --replicaof host port)."""
        self.port = free_port()
        self.log_dir, self.options = log_dir, list(options)
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def start(self) -> None:
        """Start it (empty: nothing is saved) and return once it answers."""
        for attempt in range(10):
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                wait_for(self._answers, timeout=REDIS_START_SECONDS, what="redis-server start")
                return
            except TimeoutError:
                if self.process.poll() is None or attempt == 9:
                    raise
                time.sleep(0.2)  # the port is not free again yet

    def command(self) -> list[str]:
        executable = shutil.which("redis-server")
        assert executable, "needs redis-server: apt-get install redis-server"
        return [executable, "--bind", "127.0.0.1", "--port", str(self.port)] + [
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.log_dir),
            *self.options,
        ]

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise TimeoutError(f"redis-server exited with {self.process.returncode}")
        with self.client() as client:
            return client.ping()

    def kill(self) -> None:
        """SIGKILL: every connection reset, everything it held gone."""
        self.process.kill()
        self.process.wait(timeout=REDIS_STOP_SECONDS)

    def restart(self) -> None:
        """Killed and started again on the same port, empty, as a crash and a supervisor."""
        self.kill()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and nothing is answered (a hung host)."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def pause_clients(self, milliseconds: int) -> None:
        """CLIENT PAUSE ALL: Redis holds every command from every client for this long
        (CLIENT UNPAUSE would be held too)."""
        with self.client() as client:
            client.execute_command("CLIENT", "PAUSE", milliseconds, "ALL")

    def wait_until_answering(self, timeout: float) -> None:
        wait_for(self._answers, timeout=timeout, what="Redis answering again")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=REDIS_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=REDIS_STOP_SECONDS)


SENTINEL_MASTER = "liveblog"


class SentinelServer(RedisServer):
    """A Sentinel (redis-server --sentinel) watching the primary on primary_port as
    SENTINEL_MASTER: down_after_ms without an answer and it takes the primary for down;
    with `quorum` Sentinels agreeing, one of them promotes a replica."""

    def __init__(
        self, log_dir: Path, primary_port: int, *, quorum: int, down_after_ms: int = 1000
    ) -> None:
        self.watch = [
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {primary_port} {quorum}",
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} {down_after_ms}",
            # A failover that stalls is tried again this soon (the default is 3 minutes).
            f"sentinel failover-timeout {SENTINEL_MASTER} 5000",
        ]
        super().__init__(log_dir)

    def command(self) -> list[str]:
        # Sentinel writes what it learns (the other Sentinels, the replicas, a failover)
        # into its configuration file: one of its own, kept across a restart.
        config = self.log_dir / f"sentinel-{self.port}.conf"
        if not config.exists():
            lines = [f"port {self.port}", "bind 127.0.0.1", f"dir {self.log_dir}", *self.watch]
            config.write_text("\n".join(lines) + "\n")
        # Debian's redis-sentinel, as production runs it (redis-server in sentinel mode).
        executable = shutil.which("redis-sentinel")
        assert executable, "needs redis-sentinel: apt-get install redis-sentinel"
        return [executable, str(config)]


class RedisWithSentinels:
    """Redis as production runs it with Sentinel (deploy/README.md): a primary, its
    replicas and the Sentinels watching them, each a process of the test's own on a
    loopback port, with its files and log in log_dir."""

    def __init__(self, log_dir: Path, *, replicas: int, sentinels: int, quorum: int) -> None:
        self.primary = RedisServer(log_dir)
        self.replicas = [
            RedisServer(log_dir, "--replicaof", "127.0.0.1", str(self.primary.port))
            for _ in range(replicas)
        ]
        self.sentinels = [
            SentinelServer(log_dir, self.primary.port, quorum=quorum) for _ in range(sentinels)
        ]

    def env(self, db: int = 0) -> dict[str, str]:
        """The settings that have the app find the primary through the Sentinels."""
        return {
            # With Sentinel, REDIS_URL gives the database (and a password); the Sentinels
            # name the host.
            "REDIS_URL": f"redis://127.0.0.1:{self.primary.port}/{db}",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{each.port}" for each in self.sentinels),
            "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
        }

    def primary_port(self, sentinel: "SentinelServer | None" = None) -> int | None:
        """The primary's port as a Sentinel (the first) names it now."""
        with (sentinel or self.sentinels[0]).client() as client:
            address = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
        return int(address[1]) if address else None

    def wait_until_watching(self, timeout: float = 20.0) -> None:
        """Until every Sentinel knows the others and every replica, each replica has its
        copy: a failover can happen from now on."""

        def watching() -> bool:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    state = client.sentinel_master(SENTINEL_MASTER)
                if state["num-other-sentinels"] < len(self.sentinels) - 1:
                    return False
                if state["num-slaves"] < len(self.replicas):
                    return False
            for replica in self.replicas:
                with replica.client() as client:
                    if client.info("replication")["master_link_status"] != "up":
                        return False
            return True

        wait_for(watching, timeout=timeout, what="the Sentinels watching every replica")

    def wait_until_promoted(self, timeout: float) -> int:
        """Until every Sentinel names a primary other than the first one; its port."""
        first = self.primary.port

        def promoted() -> bool:
            return all(self.primary_port(each) not in (first, None) for each in self.sentinels)

        wait_for(promoted, timeout=timeout, what="a replica promoted by the Sentinels")
        port = self.primary_port()
        assert port is not None
        return port

    def stop(self) -> None:
        for server in [*self.sentinels, *self.replicas, self.primary]:
            server.stop()


@pytest.fixture
def redis_with_sentinels(tmp_path: Path) -> Iterator[RedisWithSentinels]:
    """A primary, a replica and three Sentinels (quorum 2), watching by the time the test
    starts."""
    servers = RedisWithSentinels(tmp_path, replicas=1, sentinels=3, quorum=2)
    try:
        servers.wait_until_watching()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The test's own Redis, for Daphne and for this process's publishing (desk)."""
    return redis_server.url


# Raw websocket readers -------------------------------------------------------------


def socket_url(base_url: str, slug: str) -> str:
    return base_url.replace("http://", "ws://") + f"/ws/live/{slug}/"


async def open_reader(base_url: str, slug: str, timeout: float = 10.0):
    """A websocket reader that has had its hello; returns (connection, hello)."""
    async with asyncio.timeout(timeout):
        connection = await websockets.connect(
            socket_url(base_url, slug), origin=base_url, open_timeout=timeout, max_queue=None
        )
        hello = orjson.loads(await connection.recv())
    assert hello["type"] == "hello", hello
    return connection, hello


def changes_in(frame: dict) -> list[dict]:
    """The messages a frame carries: itself, or a batch's messages in order."""
    return frame["messages"] if frame["type"] == "batch" else [frame]


def readers_reported(redis_server: RedisServer, event_id: int, pid: int) -> int | None:
    """The reader count the Daphne process `pid` last wrote for the event (presence.py),
    or None if it has written none."""
    with redis_server.client() as client:
        fields = client.hgetall(cache_keys.readers(event_id))
    for field, value in fields.items():
        if field.decode().startswith(f"{pid}-"):
            return int(value.decode().partition(":")[0])
    return None


def half_open_reader(base_url: str, slug: str, receive_buffer: int = 0) -> socket.socket:
    """A reader that completes the websocket handshake and then neither reads nor answers
    pings: to the server, a peer that vanished (or a slow one, with a small
    receive_buffer, that stopped reading). Close it when done."""
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.socket()
    if receive_buffer:
        # Before connecting, so that the window the server may fill stays this small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/live/{slug}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {base_url}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 4096:
        chunk = sock.recv(1)  # one byte at a time: not a byte past the handshake
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


class RawReaders:
    """Many websocket readers without a browser, each reconnecting as live.js does (the
    same jittered backoff) until stop(). Each keeps the times it got a hello, the
    highest revision it has heard of, and when each change pushed to it (not a hello or
    a heartbeat) arrived, by revision."""

    def __init__(self, base_url: str, count: int, slug: str = SLUG) -> None:
        self.base_url, self.count, self.slug = base_url, count, slug
        self.hellos_at: list[list[float]] = [[] for _ in range(count)]
        self.revisions = [0] * count
        self.pushed: list[dict[int, float]] = [{} for _ in range(count)]
        self._tasks: list[asyncio.Task] = []

    async def start(self, timeout: float = 30.0) -> None:
        """Start them all, and return once each has had its hello."""
        self._tasks = [asyncio.create_task(self._read(number)) for number in range(self.count)]
        await self.wait(lambda: all(self.hellos_at), timeout, "every raw reader connected")

    async def wait(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            for task in self._tasks:
                if task.done():
                    task.result()  # a reader that crashed says why
            assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
            await asyncio.sleep(0.05)

    @staticmethod
    def backoff(failures: int) -> float:
        """live.js's backoff(): exponential, with full jitter, at most 30 s."""
        ceiling = min(30.0, 1.0 * 2**failures)
        return ceiling / 2 + random.random() * ceiling / 2

    async def _read(self, number: int) -> None:
        failures = 0
        while True:
            try:
                async with websockets.connect(
                    socket_url(self.base_url, self.slug),
                    origin=self.base_url,
                    open_timeout=10,
                    max_queue=None,
                ) as connection:
                    async for payload in connection:
                        frame = orjson.loads(payload)
                        if frame["type"] == "hello":
                            self.hellos_at[number].append(time.monotonic())
                            failures = 0
                        for message in changes_in(frame):
                            revision = message.get("revision") or 0
                            self.revisions[number] = max(self.revisions[number], revision)
                            if message["type"] not in ("hello", "heartbeat"):
                                self.pushed[number][revision] = time.monotonic()
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            await asyncio.sleep(self.backoff(failures))
            failures += 1

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# Chromium readers ---------------------------------------------------------------------


@pytest.fixture
def open_live_pages(browser):  # noqa: F811  (the fixture imported above)
    """open(base_url, count): that many readers' pages (each its own browser context)
    on the live page, each live (hello received) and marked (see Reader.was_reloaded)."""

    async def open_pages(base_url: str, count: int) -> list[Reader]:
        pages = []
        for _ in range(count):
            context = await browser.new_context(**DESKTOP)
            page = Reader(await context.new_page(), base_url)
            await page.open(SLUG)
            await page.wait_until_live()
            await page.mark()
            pages.append(page)
        return pages

    return open_pages
