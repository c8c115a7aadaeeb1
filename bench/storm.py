"""Reconnect-storm benchmark: N readers of one Daphne process, the process restarted with
entries published while it was down; every reader comes back and catches up.

    .venv/bin/python bench/storm.py                   # N = 5000, 5 entries published while down
    .venv/bin/python bench/storm.py --readers 1000 --published 20
    .venv/bin/python bench/storm.py --smoke           # N = 200; exit 1 unless every reader is exact
    .venv/bin/python bench/storm.py --profile /tmp/p  # also py-spy Daphne during the storm
    .venv/bin/python bench/storm.py --backlog 4096    # a longer accept queue than the 1,024 default

Needs Redis (default redis://127.0.0.1:6379/4, whose asgi:group:* keys it deletes first;
not fanout.py's database 3, so that both can run at once)
and the `websockets` package. Everything listens on 127.0.0.1. The Daphne launcher, the
throwaway SQLite database and the CPU accounting are bench/fanout.py's.

For each system, with the same client process (one asyncio loop, N readers):

1. The N readers connect, at most 50 handshakes in flight, and each gets hello R0. The
   "connect" column is the server's handshake rate when nothing else happens.
2. The server is stopped (SIGTERM), K entries are published through entry_publish (the
   admin's path), and the server is started again on the same port. Each reader sees its
   socket close and does what static/live.js does: waits backoff(attempts), tries again
   with ?since=<its revision> on the socket's URL, resets attempts at hello, and applies
   what the hello brings; a hello newer than what it shows without that, or a gap, makes
   it GET changes/?since=<its revision> (a failed request is retried with the same backoff).
3. A reader is caught up when it shows R0 + K, having applied exactly revisions
   R0 + 1 ... R0 + K, in order, each once ("exact").

The reference ("bare") is a plain `websockets` server in a process of its own: it sends
hello, with the bytes of the answer a liveblog reader gets from changes/ in it when the
reader says a revision behind, and answers any other GET with those bytes. It is stopped,
and started again after the same downtime as Daphne had, so its readers' backoff is the
same: the difference is what the server does with the storm.

Printed per system: handshakes per second while connecting; the downtime (stop to serving
again); per reader, seconds from the stop until caught up (p50, p99, max); handshakes and
catch-up requests during the storm (count, and per second over the span from serving
again to the last one); errors (handshakes failed after the server was serving again,
catch-up requests that failed or were not 200, readers not exact or not caught up, and
lines of Daphne's logs with an ERROR, a traceback or a 5xx); the server's CPU seconds
from serving again until the last reader caught up; and "elsewhere" (see fanout.py).
Under a row: the errors by kind, the commonest reasons handshakes failed, and how many
connections the kernel dropped for a full accept queue meanwhile (machine-wide). Then
the ratios (liveblog / bare) and the issue's target: every reader caught up within 15 s
of the restart. Exits 1 unless every reader of both systems is exact.
"""

import argparse
import asyncio
import collections
import contextlib
import math
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # noqa: E402  (its Daphne, settings, set-up and CPU accounting; same folder)

# static/live.js: RECONNECT_BASE_MS, RECONNECT_CAP_MS and backoff().
RECONNECT_BASE_SECONDS = 1.0
RECONNECT_CAP_SECONDS = 30.0
TARGET_SECONDS = 15.0  # Issue 5: 5,000 readers all caught up within 15 s of a restart.
# A browser waits about this long for a handshake or a request before giving up on it.
REQUEST_SECONDS = 30.0
CATCH_UP_ATTEMPTS = 8
# After the restart, how long readers may take to catch up: past two capped backoffs.
STORM_SECONDS = 120.0
LAG_TICK_SECONDS = 0.1
NOT_EXACT_EXAMPLES = 3
# liveblog/server.py's accept queue (LISTEN_BACKLOG), which the bare server gets too
# unless --backlog sets both.
DAPHNE_BACKLOG = 1024
# Every reader here comes from 127.0.0.1, one address; in production they are thousands.
# A limit nobody reaches keeps the counting (a Redis round trip per connect and request)
# in what is measured, without refusing the benchmark's own readers.
UNREACHED_RATE_LIMITS = {
    "RATE_LIMIT_API_PER_MINUTE": str(10**9),
    "RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE": str(10**9),
}


def backoff(failures: int) -> float:
    """Seconds before the next try: exponential, capped, with jitter, as the page waits."""
    ceiling = min(RECONNECT_CAP_SECONDS, RECONNECT_BASE_SECONDS * 2**failures)
    return ceiling / 2 + random.random() * ceiling / 2


def percentile(values: list[float], q: float) -> float:
    """Nearest rank; NaN without data."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def http_get(host: str, port: int, path: str) -> tuple[int, bytes]:
    """One GET on a connection of its own, as a browser's fetch() after a restart makes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: {fanout.ORIGIN}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in header_lines if b": " in line)
    if headers.get(b"transfer-encoding") == b"chunked":
        raise RuntimeError(f"chunked answer to GET {path}: this client reads Content-Length")
    if b"content-length" in headers and len(body) != int(headers[b"content-length"]):
        raise ConnectionError(f"short answer to GET {path}")
    return int(status_line.split(b" ", 2)[1]), body


# Client process ----------------------------------------------------------------------


@dataclass
class Reader:
    """One reader's page, as static/live-feed.js keeps it: the revision it shows, changes
    held until the ones before them arrive, and a catch-up when it sees a gap."""

    changes_url: tuple[str, int, str]  # host, port, path
    revision: int = 0
    first_revision: int = 0
    target: int | None = None
    applied: list[int] = field(default_factory=list)
    held: dict[int, dict] = field(default_factory=dict)
    frames: list[int] = field(default_factory=list)  # revisions of changes, as they came
    # Seconds from publish to receipt of each change that came over the socket.
    latencies: list[float] = field(default_factory=list)
    handshakes: list[float] = field(default_factory=list)  # time.time() of each hello
    failed_handshakes: list[tuple[float, str]] = field(default_factory=list)  # (when, why)
    requests: list[tuple[float, int | None]] = field(default_factory=list)  # (done, status)
    errors: list[str] = field(default_factory=list)
    caught_up_at: float | None = None

    async def receive(self, message: dict) -> None:
        if message["type"] in ("hello", "heartbeat"):
            if "catch_up" in message:
                self.apply(message["catch_up"])
            if message["revision"] > self.revision:
                await self.catch_up()
            elif message["revision"] < self.revision and message["type"] == "hello":
                self.errors.append(f"hello {message['revision']} behind {self.revision}")
        else:
            self.frames.append(message["revision"])
            headline = (message.get("entry") or {}).get("headline", "")
            if headline.startswith("t="):
                self.latencies.append(time.time() - float(headline[2:]))
            if message["revision"] <= self.revision:
                return
            self.held[message["revision"]] = message
            self.drain()
            if self.held:
                await self.catch_up()
        self.note_progress()

    def drain(self) -> None:
        while self.revision + 1 in self.held:
            self.held.pop(self.revision + 1)
            self.revision += 1
            self.applied.append(self.revision)
        self.held = {r: m for r, m in self.held.items() if r > self.revision}

    async def catch_up(self) -> None:
        host, port, path = self.changes_url
        for attempt in range(CATCH_UP_ATTEMPTS):
            status = None
            try:
                async with asyncio.timeout(REQUEST_SECONDS):
                    status, body = await http_get(host, port, f"{path}?since={self.revision}")
            except (OSError, TimeoutError) as error:
                self.errors.append(f"GET changes: {type(error).__name__}: {error}")
            self.requests.append((time.time(), status))
            if status == HTTPStatus.OK:
                self.apply(orjson.loads(body))
                return
            if status is not None:
                self.errors.append(f"GET changes: {status}")
            await asyncio.sleep(backoff(attempt))

    def apply(self, answer: dict) -> None:
        """An answer of changes/?since=, fetched or brought by a hello."""
        if answer.get("reset"):
            self.errors.append(f"reset at since={self.revision}")
            return
        for change in answer["changes"]:
            if change["revision"] > self.revision and change["revision"] not in self.applied:
                self.applied.append(change["revision"])
        self.revision = max(self.revision, answer["revision"])
        self.drain()

    def note_progress(self) -> None:
        if self.caught_up_at is None and self.target is not None and self.revision >= self.target:
            self.caught_up_at = time.time()

    @property
    def exact(self) -> bool:
        return self.target is not None and self.applied == list(
            range(self.first_revision + 1, self.target + 1)
        )


async def open_socket(url: str):
    """A reader's websocket and its hello, or an exception."""
    from websockets.asyncio.client import connect

    ws = None
    try:
        # No compression (Daphne does not negotiate it), no proxy, no pings.
        ws = await connect(
            url,
            origin=fanout.ORIGIN,
            compression=None,
            proxy=None,
            ping_interval=None,
            open_timeout=REQUEST_SECONDS,
            close_timeout=1,
        )
        hello = orjson.loads(await asyncio.wait_for(ws.recv(), REQUEST_SECONDS))
        if hello.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {hello!r}")
        return ws, hello
    except BaseException:
        if ws is not None:
            ws.transport.abort()
        raise


def failure_reason(error: Exception) -> str:
    # websockets says why a response was not valid in the exception's cause: the EOF.
    cause = f" ({type(error.__cause__).__name__}: {error.__cause__})" if error.__cause__ else ""
    return f"{type(error).__name__}: {error}{cause}"[:120]


async def live(reader: Reader, url: str, ws, hello: dict) -> None:
    """The reader from its first hello on: read, and after a close come back as the page
    does, for as long as it runs."""
    from websockets.exceptions import ConnectionClosed

    attempts = 0
    while True:
        attempts = 0
        reader.handshakes.append(time.time())
        await reader.receive(hello)
        with contextlib.suppress(ConnectionClosed, OSError):
            async for frame in ws:
                await reader.receive(orjson.loads(frame))
        if ws.close_code in (4004, 4410):
            reader.errors.append(f"closed with {ws.close_code}")
            return
        while True:
            await asyncio.sleep(backoff(attempts))
            attempts += 1
            tried_at = time.time()
            try:
                joiner = "&" if "?" in url else "?"
                ws, hello = await open_socket(f"{url}{joiner}since={reader.revision}")
                break
            except Exception as error:
                reader.failed_handshakes.append((tried_at, failure_reason(error)))


def client_main(conn, url: str, changes_url: tuple[str, int, str], readers: int) -> None:
    """Open the readers and say "ready"; on ("target", R), wait until every reader shows
    R (or STORM_SECONDS pass) and send the readers; on "close", drop them and exit."""
    fanout.raise_fd_limit()
    try:
        asyncio.run(_client(conn, url, changes_url, readers))
    except BaseException as error:
        conn.send(("error", f"{type(error).__name__}: {error}"))
        raise


async def _client(conn, url: str, changes_url: tuple[str, int, str], count: int) -> None:
    semaphore = asyncio.Semaphore(fanout.CONNECT_CONCURRENCY)

    async def open_first():
        async with semaphore:
            for attempt in range(fanout.CONNECT_ATTEMPTS):
                try:
                    return await open_socket(url)
                except Exception:
                    if attempt == fanout.CONNECT_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.5 * (attempt + 1))

    started = time.monotonic()
    opened = await asyncio.gather(*(open_first() for _ in range(count)), return_exceptions=True)
    connect_seconds = time.monotonic() - started
    failures = [repr(each) for each in opened if isinstance(each, BaseException)]
    readers, tasks = [], []
    for each in opened:
        if isinstance(each, BaseException):
            continue
        ws, hello = each
        reader = Reader(changes_url, revision=hello["revision"], first_revision=hello["revision"])
        readers.append(reader)
        tasks.append(asyncio.create_task(live(reader, url, ws, hello)))
    conn.send(("ready", connect_seconds, len(failures), failures[:3]))

    command = await fanout.poll(conn, 600, "target")
    if command[0] == "target":
        lag = [0.0]
        tasks.append(asyncio.create_task(loop_lag(lag)))
        for reader in readers:
            reader.target = command[1]
            reader.note_progress()
        deadline = time.monotonic() + STORM_SECONDS
        while time.monotonic() < deadline and any(r.caught_up_at is None for r in readers):
            await asyncio.sleep(0.1)
        conn.send(("readers", [reader_summary(r) for r in readers], lag[0]))
        await fanout.poll(conn, 300, "close")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def loop_lag(longest: list[float]) -> None:
    """The longest this process's event loop has been late for a 100 ms timer: with
    thousands of readers on a machine's shared cores, a reader process can be too busy to
    send its handshakes in time, and that is the benchmark's fault, not the server's."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(LAG_TICK_SECONDS)
        longest[0] = max(longest[0], time.monotonic() - asked - LAG_TICK_SECONDS)


def reader_summary(reader: Reader) -> dict:
    """What the parent needs of a reader, small enough to pickle for thousands."""
    return {
        "caught_up_at": reader.caught_up_at,
        "exact": reader.exact,
        "applied": reader.applied if not reader.exact else None,
        "first_revision": reader.first_revision,
        "frames": reader.frames,
        "latencies": reader.latencies,
        "handshakes": reader.handshakes[1:],  # the first was before the storm
        "failed_handshakes": reader.failed_handshakes,
        "requests": reader.requests,
        "errors": reader.errors,
    }


class StormClient:
    """The readers' process, the same code whichever server they read."""

    def __init__(self, context, url: str, changes_url: tuple[str, int, str], readers: int):
        self.readers = readers
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=client_main, args=(child, url, changes_url, readers), daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self) -> float:
        """Seconds the first handshakes took, up to every reader's hello."""
        timeout = REQUEST_SECONDS * fanout.CONNECT_ATTEMPTS + self.readers / 10
        _, seconds, failed, examples = fanout.receive(self.conn, timeout, "client connect")
        if failed:
            raise RuntimeError(f"{failed} of {self.readers} readers could not connect: {examples}")
        return seconds

    def expect(self, revision: int) -> None:
        self.conn.send(("target", revision))

    def results(self) -> list[dict]:
        """Once every reader shows the target revision, or STORM_SECONDS have passed; the
        longest its event loop was late meanwhile is in self.loop_lag."""
        _, readers, self.loop_lag = fanout.receive(self.conn, STORM_SECONDS + 60, "client storm")
        return readers

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("close",))
        self.process.join(timeout=fanout.SERVER_STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=fanout.SERVER_STOP_SECONDS)


# The storm's figures -------------------------------------------------------------------


@dataclass
class Storm:
    system: str
    readers: list[dict]
    connect_seconds: float
    stopped_at: float  # time.time() when the server was told to stop
    serving_at: float  # time.time() when it answered again
    server_cpu_seconds: float = math.nan
    elsewhere_cpus: float = math.nan
    server_errors: list[str] = field(default_factory=list)  # from the server's log
    listen_overflows: int = 0  # machine-wide, during the storm
    client_lag: float = 0.0  # seconds, the longest a reader process's loop was late

    @property
    def downtime(self) -> float:
        return self.serving_at - self.stopped_at

    def caught_up_seconds(self) -> list[float]:
        return [r["caught_up_at"] - self.stopped_at for r in self.readers if r["caught_up_at"]]

    def caught_up(self, q: float) -> float:
        """Seconds from the stop until caught up; infinite if a reader never was."""
        if any(r["caught_up_at"] is None for r in self.readers):
            return math.inf if q == 1.0 else percentile(self.caught_up_seconds(), q)
        return percentile(self.caught_up_seconds(), q)

    def _rate(self, times: list[float]) -> tuple[int, float]:
        if not times:
            return 0, math.nan
        span = max(times) - self.serving_at
        return len(times), len(times) / span if span > 0 else math.nan

    def handshakes(self) -> tuple[int, float]:
        return self._rate([t for r in self.readers for t in r["handshakes"]])

    def catch_ups(self) -> tuple[int, float]:
        return self._rate([t for r in self.readers for t, s in r["requests"] if s == 200])

    def errors(self) -> dict[str, int]:
        return {
            "handshake": sum(
                t > self.serving_at for r in self.readers for t, _ in r["failed_handshakes"]
            ),
            "request": sum(s != 200 for r in self.readers for _, s in r["requests"]),
            "not exact": sum(not r["exact"] for r in self.readers),
            "not caught up": sum(r["caught_up_at"] is None for r in self.readers),
            "server": len(self.server_errors),
        }

    def handshake_failures(self) -> list[tuple[str, int]]:
        """Why handshakes failed once the server served again, most common first."""
        reasons = collections.Counter(
            why for r in self.readers for t, why in r["failed_handshakes"] if t > self.serving_at
        )
        return reasons.most_common(3)

    def request_failures(self) -> list[tuple[str, int]]:
        """Why catch-up requests failed, most common first."""
        reasons = collections.Counter(
            why[:80] for r in self.readers for why in r["errors"] if why.startswith("GET ")
        )
        return reasons.most_common(3)

    def not_exact(self) -> list[str]:
        return [
            f"from {r['first_revision']}: applied {r['applied']}, errors {r['errors'][:3]}"
            for r in self.readers
            if not r["exact"]
        ][:NOT_EXACT_EXAMPLES]


def listen_overflows() -> int:
    """Connections the kernel dropped because a listening socket's accept queue was full
    (machine-wide, since boot): the client retries a dropped one after 1, 3, 7 s..."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    return 0


def run_storm(
    system: str,
    clients: list[StormClient],
    connect_seconds: float,
    stop,
    publish_while_down,
    start,
    server_pids,
    profile: Path | None = None,
) -> "Storm":
    """Stop the servers, publish while they are down (returning the revision then), start
    them again; returns once every reader caught up, or STORM_SECONDS after. server_pids:
    the pids of the servers started again (the first one profiled)."""
    overflows_before = listen_overflows()
    stopped_at = time.time()
    stop()
    revision = publish_while_down()
    for client in clients:
        client.expect(revision)
    start()
    serving_at = time.time()
    pids = server_pids()
    client_pids = [client.process.pid for client in clients]
    with (
        fanout.profiled(pids[0], profile),
        fanout.Elsewhere(*pids, *client_pids) as elsewhere,
    ):
        cpu_before = sum(map(fanout.cpu_seconds, pids))
        readers = [reader for client in clients for reader in client.results()]
        cpu = sum(map(fanout.cpu_seconds, pids)) - cpu_before
    lag = max(client.loop_lag for client in clients)
    return Storm(
        system,
        readers,
        connect_seconds,
        stopped_at,
        serving_at,
        cpu,
        elsewhere.cpus,
        listen_overflows=listen_overflows() - overflows_before,
        client_lag=lag,
    )


class DaphneOnPort(fanout.Daphne):
    """fanout.Daphne (liveblog/server.py's Daphne, as production runs it) on a given port:
    a restart comes back where its readers are. With a backlog, its listening socket's
    accept queue is that long instead of Twisted's 50."""

    def __init__(
        self, env: dict[str, str], log_path: Path, port: int, backlog: int | None = None
    ) -> None:
        self.port, self.log_path, self.traced = port, log_path, False
        self.url = f"ws://{fanout.HOST}:{port}/ws/live/{fanout.SLUG}/"
        self.snapshot_path = log_path.with_suffix(".tracemalloc")
        self.gc_stats_path = log_path.with_suffix(".gc.json")
        if backlog:
            listen = ["-e", f"tcp:port={port}:interface={fanout.HOST}:backlog={backlog}"]
        else:
            listen = ["-b", fanout.HOST, "-p", str(port)]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", fanout.SERVE_DAPHNE, *listen, "liveblog.asgi:application"],
                cwd=fanout.ROOT,
                env=os.environ
                | env
                | {
                    "LIVEBLOG_BENCH_GC_STATS": str(self.gc_stats_path),
                    "PYTHONPATH": str(fanout.ROOT),
                    "PYTHONUNBUFFERED": "1",
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_listening(self) -> None:
        """Until its port takes connections. Not until a probe gets its hello, as
        fanout.Daphne waits: under a storm the probe queues behind thousands of readers."""
        fanout.wait_until_up(
            self.process,
            lambda: socket.create_connection((fanout.HOST, self.port), timeout=1).close(),
            "listen",
            every=0.05,
        )


# Daphne's access log: `127.0.0.1:41234 - - [26/Nov/2026:11:11:52] "GET /..." 503 0`.
SERVER_ERROR = re.compile(r'"[A-Z]+ [^"]*" 5\d\d ')


def logged_errors(log_path: Path) -> list[str]:
    """The lines of a Daphne log that show an error: a logged ERROR, a traceback, a 5xx."""
    lines = log_path.read_text(errors="replace").splitlines()
    return [
        line
        for line in lines
        if "ERROR" in line or "Traceback" in line or SERVER_ERROR.search(line)
    ]


def changes_path() -> str:
    return f"/api/events/{fanout.SLUG}/changes/"


def measure_liveblog(
    context,
    event,
    env: dict,
    workdir: Path,
    readers: int,
    published: int,
    profile: Path | None,
    backlog: int | None,
) -> tuple[Storm, bytes]:
    from updates.services import entry_publish

    servers = [fanout.Daphne(env, workdir / "daphne.log")]
    client = None
    try:
        servers[0].wait_until_serving()
        port = servers[0].port
        client = StormClient(context, servers[0].url, (fanout.HOST, port, changes_path()), readers)
        connect_seconds = client.wait_ready()

        def publish_while_down() -> int:
            for i in range(published):
                entry_publish(
                    event=event, author=None, headline=f"While down {i}", body=fanout.BODY
                )
            event.refresh_from_db()
            return event.revision

        def start() -> None:
            servers.append(DaphneOnPort(env, workdir / "daphne-restarted.log", port, backlog))
            servers[-1].wait_until_listening()

        storm = run_storm(
            "liveblog",
            [client],
            connect_seconds,
            servers[0].stop,
            publish_while_down,
            start,
            lambda: [servers[-1].pid],
            profile,
        )
        storm.server_errors = [line for each in servers for line in logged_errors(each.log_path)]
        # What a reader got from changes/, for the bare server to answer with; asked once
        # the readers are gone, as a server that fell behind may still be drowning in them.
        client.stop()
        since = event.revision - published
        for attempt in range(CATCH_UP_ATTEMPTS):
            with contextlib.suppress(OSError, TimeoutError):
                async_get = http_get(fanout.HOST, port, f"{changes_path()}?since={since}")
                status, body = asyncio.run(asyncio.wait_for(async_get, REQUEST_SECONDS))
                if status == HTTPStatus.OK:
                    return storm, body
            time.sleep(backoff(attempt))
        raise RuntimeError("changes/ did not answer 200 once the readers had left")
    except Exception:
        for server in servers:
            print(f"Daphne's log (tail):\n{server.log()}", file=sys.stderr)
        raise
    finally:
        if client is not None:
            client.stop()
        for server in servers:
            server.stop()


# Bare websockets server process --------------------------------------------------------


def bare_server_main(
    conn, port: int, revision: int, catch_up: bytes, listen_at: float, backlog: int
) -> None:
    """From time.time() `listen_at` on, send hello `revision` to every reader, with
    `catch_up` in it for a reader behind, and answer any other GET with `catch_up`."""
    fanout.raise_fd_limit()
    asyncio.run(_bare_server(conn, port, revision, catch_up, listen_at, backlog))


async def _bare_server(
    conn, port: int, revision: int, catch_up: bytes, listen_at: float, backlog: int
) -> None:
    from websockets.asyncio.server import serve

    await asyncio.sleep(max(0.0, listen_at - time.time()))
    hello = orjson.dumps({"type": "hello", "revision": revision}).decode()
    hello_with_catch_up = orjson.dumps(
        {"type": "hello", "revision": revision, "catch_up": orjson.Fragment(catch_up)}
    ).decode()
    answer = catch_up.decode()

    def process_request(connection, request):
        if not request.path.startswith("/ws/"):
            return connection.respond(HTTPStatus.OK, answer)
        return None

    async def handler(ws) -> None:
        since = parse_qs(urlsplit(ws.request.path).query).get("since")
        await ws.send(hello_with_catch_up if since and int(since[0]) < revision else hello)
        await ws.wait_closed()

    async with serve(
        handler,
        fanout.HOST,
        port,
        process_request=process_request,
        compression=None,
        ping_interval=None,
        # As long an accept queue as Daphne's: the same dropped connections under a storm.
        backlog=backlog,
    ):
        conn.send(("listening",))
        await fanout.poll(conn, 900, "stop")


class BareServer:
    def __init__(
        self, context, port: int, revision: int, catch_up: bytes, listen_at: float, backlog: int
    ) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=bare_server_main,
            args=(child, port, revision, catch_up, listen_at, backlog),
            daemon=True,
        )
        self.process.start()
        child.close()
        self.listen_at = listen_at

    def wait_listening(self) -> "BareServer":
        timeout = fanout.SERVER_START_SECONDS + max(0.0, self.listen_at - time.time())
        fanout.receive(self.conn, timeout, "bare server")
        return self

    def stop(self) -> None:
        # As SIGTERM stops Daphne: the process goes, its sockets with it.
        self.process.terminate()
        self.process.join(timeout=fanout.SERVER_STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=fanout.SERVER_STOP_SECONDS)


def measure_bare(
    context,
    readers: int,
    first: int,
    published: int,
    downtime: float,
    catch_up: bytes,
    backlog: int | None,
) -> Storm:
    port = fanout.free_port()
    backlog = backlog or DAPHNE_BACKLOG
    servers = [BareServer(context, port, first, catch_up, 0.0, backlog).wait_listening()]
    client = StormClient(
        context, f"ws://{fanout.HOST}:{port}/ws/", (fanout.HOST, port, changes_path()), readers
    )
    try:
        connect_seconds = client.wait_ready()
        stopping = time.time()

        def start() -> None:
            # Started now, listening only once Daphne would have served again.
            listen_at = stopping + downtime
            servers.append(
                BareServer(
                    context, port, first + published, catch_up, listen_at, backlog
                ).wait_listening()
            )

        return run_storm(
            "bare",
            [client],
            connect_seconds,
            servers[0].stop,
            lambda: first + published,
            start,
            lambda: [servers[-1].process.pid],
        )
    finally:
        client.stop()
        for server in servers:
            server.stop()


# Report --------------------------------------------------------------------------------

HEADER = (
    f"{'readers':>7}  {'system':<8}  {'connect/s':>9}  {'down s':>6}  {'p50 s':>6}  "
    f"{'p99 s':>6}  {'max s':>6}  {'handshakes':>14}  {'catch-ups':>14}  {'errors':>6}  "
    f"{'CPU s':>5}  {'elsewhere':>9}"
)


def print_row(storm: Storm) -> None:
    handshakes, handshake_rate = storm.handshakes()
    catch_ups, catch_up_rate = storm.catch_ups()
    errors = storm.errors()
    n = len(storm.readers)
    print(
        f"{n:>7}  {storm.system:<8}  {n / storm.connect_seconds:>9.0f}  {storm.downtime:>6.1f}"
        f"  {storm.caught_up(0.5):>6.1f}  {storm.caught_up(0.99):>6.1f}"
        f"  {storm.caught_up(1.0):>6.1f}  {f'{handshakes} {handshake_rate:.0f}/s':>14}"
        f"  {f'{catch_ups} {catch_up_rate:.0f}/s':>14}  {sum(errors.values()):>6}"
        f"  {storm.server_cpu_seconds:>5.1f}  {storm.elsewhere_cpus:>9.2f}"
    )
    if any(errors.values()):
        print(f"{'':>9}errors: {errors}")
    if storm.listen_overflows:
        print(f"{'':>9}accept queue overflows (machine-wide): {storm.listen_overflows}")
    if storm.client_lag > 1:
        print(f"{'':>9}a reader process's event loop was up to {storm.client_lag:.1f} s late")
    for reason, count in storm.handshake_failures():
        print(f"{'':>9}handshake failed {count} times: {reason}")
    for reason, count in storm.request_failures():
        print(f"{'':>9}catch-up failed {count} times: {reason}")
    for example in storm.not_exact():
        print(f"{'':>9}not exact: {example}")
    for line in list(dict.fromkeys(line[24:] for line in storm.server_errors))[:3]:
        print(f"{'':>9}server: {line[:200]}")


def print_summary(live: Storm, bare: Storm) -> None:
    ratios = "  ".join(
        f"{label} {live.caught_up(q) / bare.caught_up(q):.1f}x"
        for label, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))
    )
    after_serving = live.caught_up(1.0) - live.downtime
    met = "met" if live.caught_up(1.0) <= TARGET_SECONDS else "MISSED"
    print(
        f"{'':>9}caught up, liveblog/bare: {ratios}   last reader {after_serving:.1f} s after "
        f"Daphne served again   target (all within {TARGET_SECONDS:.0f} s of the restart): {met}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=5000, metavar="N")
    parser.add_argument(
        "--published", type=int, default=5, metavar="K", help="entries published while down"
    )
    parser.add_argument("--smoke", action="store_true", help="N=200: a quick check for CI")
    parser.add_argument(
        "--backlog",
        type=int,
        metavar="N",
        help="the restarted Daphne's (and the bare server's) accept queue; default 1024",
    )
    parser.add_argument("--redis-url", default=f"redis://{fanout.HOST}:6379/4")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy raw stacks of Daphne")
    args = parser.parse_args()
    if args.smoke:
        args.readers = 200
    if args.readers < 1 or args.published < 1:
        parser.error("readers and published must be positive")

    fanout.raise_fd_limit()  # Daphne inherits it, so it can hold N sockets too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    begun = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="liveblog-storm-") as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'bench.sqlite3'}"
        env = fanout.bench_env(database, args.redis_url, None) | UNREACHED_RATE_LIMITS
        fanout.forget_stale_groups(args.redis_url)
        event = fanout.setup_django(env)
        profile = args.profile / f"daphne-storm-{args.readers}.txt" if args.profile else None
        print(
            f"{args.published} entries published while the server was down; times in seconds "
            "from the stop; handshakes and catch-ups: count and rate after serving again"
        )
        print(HEADER)
        live, catch_up = measure_liveblog(
            context, event, env, workdir, args.readers, args.published, profile, args.backlog
        )
        print_row(live)
        sys.stdout.flush()
        first = event.revision - args.published
        bare = measure_bare(
            context, args.readers, first, args.published, live.downtime, catch_up, args.backlog
        )
        print_row(bare)
        print_summary(live, bare)
    print(f"run took {time.monotonic() - begun:.0f} s")
    exact = not any(storm.errors()["not exact"] for storm in (live, bare))
    if not exact:
        print("FAILED: some readers did not end exact", file=sys.stderr)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
