"""Fan-out benchmark: publish-to-receipt latency of one Daphne process with N readers.

    .venv/bin/python bench/fanout.py                      # N = 500 and 2000, 20 publishes each
    .venv/bin/python bench/fanout.py --readers 5000 --publishes 20
    .venv/bin/python bench/fanout.py --smoke              # N = 200, 5 publishes; exit 1 on any loss
    .venv/bin/python bench/fanout.py --profile /tmp/prof  # also py-spy Daphne (raw stacks)
    .venv/bin/python bench/fanout.py --layer core         # another channel layer than the default
    .venv/bin/python bench/fanout.py --tracemalloc        # where Daphne's bytes per reader go
    .venv/bin/python bench/fanout.py --readers 2000 --burst 10 --interval 1  # bursts of 10
    .venv/bin/python bench/fanout.py --write-docs docs/performance.md  # what make bench runs

Needs Redis (default redis://127.0.0.1:6379/3, whose asgi:group:* keys it deletes first)
and the `websockets` package (in the `test` extra). Everything listens on 127.0.0.1.

For each N it measures two systems with the same client process and the same frame:

- liveblog: a throwaway SQLite database, one real Daphne process on the Redis channel
  layer, N readers of one event on /ws/live/<slug>/; this process publishes through
  updates.services.entry_publish, i.e. the real path (database, on_commit, one Redis
  group message, the Daphne process's hub handing the frame to each reader).
- bare: a plain `websockets` server calling websockets.broadcast() with the same frame,
  the ceiling for "one Python process writes one frame to N sockets".

Each system gets one unmeasured warm-up publish, then P publishes 200 ms apart (--burst B:
P bursts of B publishes back to back, --interval seconds apart). Every message carries time.time()
taken when its publish started (headline "t=<float>"), so the client computes
publish-to-receipt latency per message per reader. Messages merged into one batch frame
count one by one; the summary says how many frames carried them.

Printed per N and system: delivered/expected frames; p50, p99 and max latency in ms; how
long the N handshakes (up to hello) took; the server process's CPU time per delivered
frame (from the warm-up to the last receipt); and "elsewhere", how many CPUs the rest of
the machine (Redis, py-spy, anything else running) kept busy meanwhile: on a shared
machine, more than a few tenths means the latencies are not to be trusted. Then the p99
ratio (liveblog / bare), the server's memory per idle reader (VmRSS with N readers minus
VmRSS with none, divided by N), how long entry_publish() blocked its caller, and the CPU
Daphne burns with N readers connected and nothing published.
--verbose adds p50/max per publish. Exits 1 if any reader missed any message.
--write-docs FILE replaces the current figures' table in FILE (bench/figures.py) with this
run's, if every reader received every message.
"""

import argparse
import asyncio
import contextlib
import gc
import linecache
import math
import multiprocessing
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import figures
import orjson

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ORIGIN = f"http://{HOST}"  # Daphne checks it against ALLOWED_HOSTS.
DEFAULT_REDIS_URL = f"redis://{HOST}:6379/3"
SLUG = "bench"
SECRET_KEY = "bench-only-not-a-secret"

# From the environment, so that spawned client and server processes see --sustained too.
PUBLISH_INTERVAL_SECONDS = float(os.environ.get("LIVEBLOG_BENCH_INTERVAL", "0.2"))
# At most this many handshakes in flight: Twisted listens with a backlog of 50, and a
# dropped SYN costs a 1 s retransmit.
CONNECT_CONCURRENCY = 50
CONNECT_ATTEMPTS = 3
HANDSHAKE_SECONDS = 30.0
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 5.0
# After the last publish, how long readers may take to receive everything.
DRAIN_SECONDS = 30.0
# Let the allocator and the reactor settle before reading VmRSS.
RSS_SETTLE_SECONDS = 1.0
SNAPSHOT_SECONDS = 60.0
# Long enough to hold one run of each of Daphne's periodic checks (every 1 s and 2 s).
IDLE_SECONDS = 4.0
# --tracemalloc: how many places (files, then lines) to list.
TRACEMALLOC_TOP = 15

# About 1 KB of the HTML a journalist writes; the frame also carries the rendered card.
BODY = "".join(
    f"<p>Paragraph {i}: the minister said the <strong>vote</strong> would go ahead "
    f'tonight, <a href="https://example.com/{i}">according to the statement</a>.</p>'
    for i in range(7)
)
WARM_UP_HEADLINE = "warm-up"  # Does not match T_PATTERN: readers do not count it.
T_PATTERN = re.compile(r"t=([0-9.]+)$")


def raise_fd_limit() -> None:
    # Each reader is a socket; the usual soft limit of 1024 would stop us short.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def poll(conn, timeout: float, what: str):
    """The parent's next message, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, conn.poll, timeout):
        raise TimeoutError(f"no {what} from the parent within {timeout:.0f} s")
    return conn.recv()


# Client process ----------------------------------------------------------------------


def client_main(conn, url: str, readers: int, publishes: int) -> None:
    # publishes: the messages each reader is to receive.
    """Open the readers and say "ready"; on "drain", wait for every frame and send the
    results; on "close", drop the sockets and exit."""
    raise_fd_limit()
    try:
        asyncio.run(_client(conn, url, readers, publishes))
    except BaseException as error:
        conn.send(("error", f"{type(error).__name__}: {error}"))
        raise


async def _connect(url: str):
    from websockets.asyncio.client import connect

    for attempt in range(CONNECT_ATTEMPTS):
        ws = None
        try:
            # No compression (Daphne does not negotiate it), no proxy, no pings: only
            # the frames under test go over the wire.
            ws = await connect(
                url,
                origin=ORIGIN,
                compression=None,
                proxy=None,
                ping_interval=None,
                open_timeout=HANDSHAKE_SECONDS,
                close_timeout=1,
            )
            hello = orjson.loads(await asyncio.wait_for(ws.recv(), HANDSHAKE_SECONDS))
            if hello.get("type") != "hello":
                raise RuntimeError(f"expected hello, got {hello!r}")
            return ws
        except Exception:
            if ws is not None:
                ws.transport.abort()
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))


async def _client(conn, url: str, readers: int, publishes: int) -> None:
    samples: list[tuple[int, float]] = []
    # Revisions seen per reader: a duplicate must not stand in for a lost frame.
    seen: list[set[int]] = [set() for _ in range(readers)]
    expected = readers * publishes
    delivered = 0
    frames = 0  # that carried measured messages: fewer than them when bursts are merged
    all_delivered = asyncio.Event()
    example: list[str] = []

    async def read(index: int, ws) -> None:
        nonlocal delivered, frames
        try:
            async for frame in ws:
                received = time.time()
                message = orjson.loads(frame)
                merged = message["messages"] if message.get("type") == "batch" else [message]
                counted = 0
                for message in merged:
                    if message.get("type") != "entry.created":
                        continue  # e.g. a heartbeat
                    match = T_PATTERN.match(message["entry"]["headline"])
                    if match is None or message["revision"] in seen[index]:
                        continue
                    seen[index].add(message["revision"])
                    samples.append((message["revision"], received - float(match.group(1))))
                    if not example:  # one message's frame, for the bare server to send
                        example.append(
                            frame if len(merged) == 1 else orjson.dumps(message).decode()
                        )
                    counted += 1
                frames += counted > 0
                delivered += counted
                if counted and delivered == expected:
                    all_delivered.set()
        except Exception:
            pass  # A dropped reader shows as missing frames.

    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one():
        async with semaphore:
            return await _connect(url)

    started = time.monotonic()
    opened = await asyncio.gather(*(open_one() for _ in range(readers)), return_exceptions=True)
    connect_seconds = time.monotonic() - started
    sockets = [ws for ws in opened if not isinstance(ws, BaseException)]
    failures = [repr(ws) for ws in opened if isinstance(ws, BaseException)]
    tasks = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
    # Thousands of connection objects: a full collection of them mid-run would show up as
    # latency of the server under test.
    gc.collect()
    gc.freeze()
    conn.send(("ready", connect_seconds, len(failures), failures[:3]))

    # "close" instead of "drain": the parent gave up (an error, SIGTERM).
    if (await poll(conn, publishes * PUBLISH_INTERVAL_SECONDS + 300, "drain"))[0] == "drain":
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_SECONDS):
                await all_delivered.wait()
        conn.send(("result", samples, delivered, frames, example[0] if example else None))
        await poll(conn, 300, "close")
    for task in tasks:
        task.cancel()
    for ws in sockets:
        ws.transport.abort()  # The servers are thrown away: no closing handshakes.


# Bare websockets server process --------------------------------------------------------


def bare_server_main(conn, port: int) -> None:
    """Send hello to every reader; on ("broadcast", frame, count, burst), broadcast a warm-up
    frame and then count bursts of `burst` frames like it, PUBLISH_INTERVAL_SECONDS apart."""
    raise_fd_limit()
    asyncio.run(_bare_server(conn, port))


async def _bare_server(conn, port: int) -> None:
    from websockets.asyncio.server import broadcast, serve

    hello = orjson.dumps({"type": "hello", "revision": 0}).decode()

    async def handler(ws) -> None:
        await ws.send(hello)
        await ws.wait_closed()

    async with serve(
        handler, HOST, port, compression=None, ping_interval=None, backlog=1024
    ) as server:
        conn.send(("listening",))
        command = await poll(conn, 600, "broadcast")
        if command[0] != "broadcast":
            return  # The parent gave up.
        _, frame, count, burst = command
        message = orjson.loads(frame)
        started = time.monotonic()
        revision = 0
        for i in range(count + 1):
            await asyncio.sleep(max(0.0, started + i * PUBLISH_INTERVAL_SECONDS - time.monotonic()))
            for _ in range(burst if i else 1):
                # The timestamp is taken before the frame is built, as the liveblog one is
                # taken before entry_publish() builds its.
                message["entry"]["headline"] = f"t={time.time()!r}" if i else WARM_UP_HEADLINE
                message["revision"] = revision
                revision += 1
                broadcast(server.connections, orjson.dumps(message).decode())
        conn.send(("done",))
        await poll(conn, 600, "stop")


# The parent: Django, Daphne, publishing ------------------------------------------------


@dataclass
class Measurement:
    system: str
    readers: int
    expected: int
    delivered: int
    # (revision, seconds from publish to receipt), one per frame per reader.
    samples: list[tuple[int, float]]
    connect_seconds: float
    server_cpu_seconds: float
    frames: int = 0
    example_frame: str | None = None
    publish_seconds: list[float] = field(default_factory=list)
    rss_kib_per_reader: float = math.nan
    elsewhere_cpus: float = math.nan
    idle_cpus: float = math.nan  # CPUs the server keeps busy with N readers and no publish
    # Daphne's collections from the warm-up to the last receipt, per generation:
    # [how many, seconds in them, the longest].
    collections: dict[str, list[float]] = field(default_factory=dict)

    def percentile(self, q: float, revision: int | None = None) -> float:
        """Nearest rank, in milliseconds; NaN without data."""
        ordered = sorted(s for r, s in self.samples if revision is None or r == revision)
        if not ordered:
            return math.nan
        return 1000 * ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    def per_publish(self) -> str:
        """p50/max of each publish in turn: shows queueing, or a stall, as it happens."""
        revisions = sorted({r for r, _ in self.samples})
        return " ".join(
            f"{self.percentile(0.5, r):.0f}/{self.percentile(1.0, r):.0f}" for r in revisions
        )

    @property
    def cpu_us_per_frame(self) -> float:
        # Per message (a batch frame counts as the messages it carries); the warm-up
        # message went to every reader too.
        messages = self.readers * (self.expected // self.readers + 1)
        return 1e6 * self.server_cpu_seconds / messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system time of the process so far."""
    # The command name, in parentheses, may hold spaces: count fields after it.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Elsewhere:
    """CPUs busy outside the given processes (Redis, and whatever else runs on the
    machine) while the block runs: on a shared machine, a reason for a bad run."""

    def __init__(self, *pids: int) -> None:
        self.pids = [*pids, os.getpid()]
        self.cpus = math.nan

    @staticmethod
    def _machine_busy_seconds() -> float:
        user, nice, system, _idle, _iowait, irq, softirq = map(
            int, Path("/proc/stat").read_text().split()[1:8]
        )
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")

    def _ours(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def __enter__(self) -> "Elsewhere":
        self._started = time.monotonic()
        self._busy, self._ours_before = self._machine_busy_seconds(), self._ours()
        return self

    def __exit__(self, *exc) -> None:
        busy = self._machine_busy_seconds() - self._busy
        ours = self._ours() - self._ours_before
        self.cpus = max(0.0, busy - ours) / (time.monotonic() - self._started)


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy the process while the block runs, if asked to; raw stacks, one per line."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None or not Path(py_spy).exists():
        yield
        return
    profiler = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw"]
        + ["--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # Attaching takes a moment.
    try:
        yield
    finally:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT.
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait(timeout=SERVER_STOP_SECONDS)


def bench_env(database_url: str, redis_url: str, layer: str | None) -> dict[str, str]:
    return {
        **({"LIVEBLOG_BENCH_LAYER": layer} if layer else {}),
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "HTTPS": "false",  # plain HTTP on 127.0.0.1
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": HOST,
        # Every reader comes from 127.0.0.1: connects are counted, as in production, against
        # a limit they never reach.
        "RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE": "10000000",
    }


def setup_django(env: dict[str, str]):
    """Migrate the throwaway database, collect the static files and create the event, in
    this process."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    use_layer_of_this_run()
    django.setup()
    from django.core.management import call_command

    from updates.services import event_create

    call_command("migrate", interactive=False, verbosity=0)
    # Pages name their static files through the manifest collectstatic writes: without
    # it, a fresh checkout's live page is a 500.
    call_command("collectstatic", interactive=False, verbosity=0)
    return event_create(title="Benchmark", slug=SLUG)


def database_afresh(url: str) -> None:
    """The benchmark's database, empty: a SQLite file removed, a PostgreSQL database
    dropped and made anew."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def forget_stale_groups(redis_url: str) -> None:
    # A fresh database numbers its event 1 again: readers' channels left in the group by
    # an earlier run's Daphne would otherwise be sent every frame for a day.
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter("asgi:group:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def wait_until_up(process, check, what: str, *, every: float) -> None:
    """Until check() stops raising: Daphne (process) is up enough to `what`."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"Daphne exited with {process.returncode}")
        try:
            check()
            return
        except Exception as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Daphne did not {what} within {SERVER_START_SECONDS:.0f} s: {error!r}"
                ) from error
        time.sleep(every)


def probe_hello(url: str) -> None:
    from websockets.sync.client import connect

    with connect(url, origin=ORIGIN, proxy=None, open_timeout=2, compression=None) as ws:
        message = orjson.loads(ws.recv(timeout=2))
        if message.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {message!r}")


def use_layer_of_this_run() -> None:
    """--layer: the same channel layer in this process (which publishes) and in Daphne."""
    layer = os.environ.get("LIVEBLOG_BENCH_LAYER")
    if layer:
        from django.conf import settings

        from liveblog.backends import channel_layers

        settings.CHANNEL_LAYERS = channel_layers(os.environ["REDIS_URL"], redis_layer=layer)


# In the Daphne process: the run's settings (LIVEBLOG_BENCH_*), then liveblog's Daphne command.
SERVE_DAPHNE = (
    f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import fanout; fanout.serve_daphne()"
)


def serve_daphne() -> None:
    """Daphne, after what this run measures: another channel layer than the settings' one
    (--layer), tracemalloc snapshots on SIGUSR1 (--tracemalloc), the time spent in each
    generation's collections written out on SIGUSR2."""
    use_layer_of_this_run()
    collections = {generation: [0, 0.0, 0.0] for generation in ("0", "1", "2")}
    collecting: list[float] = []

    def time_collections(phase: str, info: dict) -> None:
        if phase == "start":
            collecting[:] = [time.perf_counter()]
        elif collecting:
            took = time.perf_counter() - collecting.pop()
            totals = collections[str(info["generation"])]
            totals[0], totals[1], totals[2] = totals[0] + 1, totals[1] + took, max(totals[2], took)

    gc.callbacks.append(time_collections)
    stats_path = os.environ["LIVEBLOG_BENCH_GC_STATS"]

    def write_collections(*_) -> None:
        Path(stats_path + ".part").write_bytes(orjson.dumps(collections))
        os.replace(stats_path + ".part", stats_path)
        for totals in collections.values():
            totals[2] = 0.0  # the longest, from now on

    signal.signal(signal.SIGUSR2, write_collections)
    snapshot_path = os.environ.get("LIVEBLOG_BENCH_TRACEMALLOC")
    if snapshot_path:
        tracemalloc.start()

        def dump(*_) -> None:
            tracemalloc.take_snapshot().dump(snapshot_path + ".part")
            os.replace(snapshot_path + ".part", snapshot_path)

        signal.signal(signal.SIGUSR1, dump)
    from liveblog.server import CommandLine  # Daphne as production runs it

    sys.argv = ["daphne", *sys.argv[1:]]
    CommandLine.entrypoint()


class Daphne:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        traced: bool = False,
        options: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.url = f"ws://{HOST}:{self.port}/ws/live/{SLUG}/"
        self.traced = traced
        self.snapshot_path = log_path.with_suffix(".tracemalloc")
        self.gc_stats_path = log_path.with_suffix(".gc.json")
        env = env | {"LIVEBLOG_BENCH_GC_STATS": str(self.gc_stats_path)}
        if traced:
            env = env | {"LIVEBLOG_BENCH_TRACEMALLOC": str(self.snapshot_path)}
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE_DAPHNE, "-b", HOST, "-p", str(self.port), *options]
                + ["liveblog.asgi:application"],
                cwd=ROOT,
                env=os.environ | env | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_serving(self) -> None:
        """Until a reader gets its hello: proves the database and Redis are reachable too."""
        wait_until_up(self.process, lambda: probe_hello(self.url), "serve", every=0.1)

    def collections(self) -> dict[str, list[float]]:
        """Per generation: [collections and seconds in them since Daphne started, the
        longest since the last call]."""
        self._ask(signal.SIGUSR2, self.gc_stats_path, "collection times")
        return orjson.loads(self.gc_stats_path.read_bytes())

    def snapshot(self) -> tracemalloc.Snapshot | None:
        """Daphne's Python allocations now, if it runs under --tracemalloc."""
        if not self.traced:
            return None
        self._ask(signal.SIGUSR1, self.snapshot_path, "tracemalloc snapshot")
        return tracemalloc.Snapshot.load(str(self.snapshot_path))

    def _ask(self, signal_number: int, path: Path, what: str) -> None:
        """Signal Daphne and wait for the file it writes in answer (serve_daphne)."""
        path.unlink(missing_ok=True)
        self.process.send_signal(signal_number)
        deadline = time.monotonic() + SNAPSHOT_SECONDS
        while not path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {SNAPSHOT_SECONDS:.0f} s")
            time.sleep(0.05)

    def log(self) -> str:
        """The end of the log, without the access log's line per handshake."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if '"WSCONNECT' not in line)[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SERVER_STOP_SECONDS)


def receive(conn, timeout: float, what: str):
    if not conn.poll(timeout):
        raise TimeoutError(f"{what} did not answer within {timeout:.0f} s")
    message = conn.recv()
    if message[0] == "error":
        raise RuntimeError(f"{what} failed: {message[1]}")
    return message


class Client:
    """The reader process: the same code, whatever server it reads from."""

    def __init__(self, context, url: str, readers: int, publishes: int) -> None:
        self.readers = readers
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=client_main, args=(child, url, readers, publishes), daemon=True
        )
        self.process.start()
        child.close()

    def wait_ready(self) -> float:
        """Seconds the handshakes took, up to every reader's hello."""
        timeout = HANDSHAKE_SECONDS * CONNECT_ATTEMPTS + self.readers / 10
        _, seconds, failed, examples = receive(self.conn, timeout, "client connect")
        if failed:
            print(f"  {failed} of {self.readers} readers could not connect, e.g. {examples}")
        return seconds

    def drain(self) -> tuple[list[tuple[int, float]], int, int, str | None]:
        """Once every reader has every message (or DRAIN_SECONDS have passed): the
        samples, the messages delivered, the frames that carried them, a single frame."""
        self.conn.send(("drain",))
        _, *result = receive(self.conn, DRAIN_SECONDS + 60, "client drain")
        return tuple(result)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("close",))
        self.process.join(timeout=SERVER_STOP_SECONDS)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=SERVER_STOP_SECONDS)


def measure_liveblog(
    context,
    event,
    env: dict[str, str],
    workdir: Path,
    readers: int,
    publishes: int,
    profile_dir: Path | None,
    traced: bool = False,
    burst: int = 1,
    options: tuple[str, ...] = (),
) -> Measurement:
    from updates.services import entry_publish

    def profile(phase: str) -> Path | None:
        return profile_dir / f"daphne-{readers}-{phase}.txt" if profile_dir else None

    daphne = Daphne(env, workdir / f"daphne-{readers}.log", traced=traced, options=options)
    client = None
    try:
        daphne.wait_until_serving()
        time.sleep(RSS_SETTLE_SECONDS)
        rss_idle = vm_rss_kib(daphne.pid)
        before = daphne.snapshot()
        with profiled(daphne.pid, profile("connect")):
            client = Client(context, daphne.url, readers, publishes * burst)
            connect_seconds = client.wait_ready()
        time.sleep(RSS_SETTLE_SECONDS)
        rss_readers = vm_rss_kib(daphne.pid)
        # What N idle readers cost: Daphne checks every connection each second or two.
        idle_started, idle_cpu = time.monotonic(), cpu_seconds(daphne.pid)
        time.sleep(IDLE_SECONDS)
        idle_cpus = (cpu_seconds(daphne.pid) - idle_cpu) / (time.monotonic() - idle_started)
        if before is not None:
            print_allocations(before, daphne.snapshot(), readers)

        publish_seconds = []
        with (
            profiled(daphne.pid, profile("fanout")),
            Elsewhere(daphne.pid, client.process.pid) as elsewhere,
        ):
            collections_before = daphne.collections()
            cpu_before = cpu_seconds(daphne.pid)
            started = time.monotonic()
            for i in range(publishes + 1):
                time.sleep(max(0.0, started + i * PUBLISH_INTERVAL_SECONDS - time.monotonic()))
                for _ in range(burst if i else 1):
                    sent = time.time()
                    headline = f"t={sent!r}" if i else WARM_UP_HEADLINE
                    # As a management command would: from plain synchronous code, so each
                    # publish's group_send runs in an event loop of its own (the admin's
                    # runs in its Daphne process's loop).
                    entry_publish(event=event, author=None, headline=headline, body=BODY)
                    if i:
                        publish_seconds.append(time.time() - sent)
            samples, delivered, frames, example = client.drain()
            server_cpu = cpu_seconds(daphne.pid) - cpu_before
            collections_after = daphne.collections()
        return Measurement(
            "liveblog",
            readers,
            readers * publishes * burst,
            delivered,
            samples,
            connect_seconds,
            server_cpu,
            frames,
            example,
            publish_seconds,
            (rss_readers - rss_idle) / readers,
            elsewhere.cpus,
            idle_cpus,
            {
                generation: [after[0] - before[0], after[1] - before[1], after[2]]
                for (generation, before), after in zip(
                    collections_before.items(), collections_after.values(), strict=True
                )
            },
        )
    except Exception:
        print(f"Daphne's log (tail):\n{daphne.log()}", file=sys.stderr)
        raise
    finally:
        if client is not None:
            client.stop()
        daphne.stop()


def measure_bare(context, frame: str, readers: int, publishes: int, burst: int = 1) -> Measurement:
    port = free_port()
    server_conn, child = context.Pipe()
    server = context.Process(target=bare_server_main, args=(child, port), daemon=True)
    server.start()
    child.close()
    client = None
    try:
        receive(server_conn, SERVER_START_SECONDS, "bare server")
        rss_idle = vm_rss_kib(server.pid)
        client = Client(context, f"ws://{HOST}:{port}/", readers, publishes * burst)
        connect_seconds = client.wait_ready()
        time.sleep(RSS_SETTLE_SECONDS)
        rss_readers = vm_rss_kib(server.pid)
        with Elsewhere(server.pid, client.process.pid) as elsewhere:
            cpu_before = cpu_seconds(server.pid)
            server_conn.send(("broadcast", frame, publishes, burst))
            timeout = (publishes + 1) * PUBLISH_INTERVAL_SECONDS + 60
            receive(server_conn, timeout, "bare broadcast")
            samples, delivered, frames, _ = client.drain()
            server_cpu = cpu_seconds(server.pid) - cpu_before
        return Measurement(
            "bare",
            readers,
            readers * publishes * burst,
            delivered,
            samples,
            connect_seconds,
            server_cpu,
            frames,
            rss_kib_per_reader=(rss_readers - rss_idle) / readers,
            elsewhere_cpus=elsewhere.cpus,
        )
    finally:
        if client is not None:
            client.stop()
        with contextlib.suppress(OSError):
            server_conn.send(("stop",))
        server.join(timeout=SERVER_STOP_SECONDS)
        if server.is_alive():
            server.kill()
            server.join(timeout=SERVER_STOP_SECONDS)


HEADER = (
    f"{'readers':>7}  {'system':<8}  {'delivered':>13}  {'p50':>7}  {'p99':>7}  {'max':>7}"
    f"  {'connect s':>9}  {'CPU µs/frame':>12}  {'elsewhere':>9}"
)


def print_row(m: Measurement, verbose: bool) -> None:
    print(
        f"{m.readers:>7}  {m.system:<8}  {f'{m.delivered}/{m.expected}':>13}"
        f"  {m.percentile(0.5):>7.1f}  {m.percentile(0.99):>7.1f}  {m.percentile(1.0):>7.1f}"
        f"  {m.connect_seconds:>9.1f}  {m.cpu_us_per_frame:>12.1f}  {m.elsewhere_cpus:>9.2f}"
    )
    if verbose:
        print(f"{'':>9}per publish, p50/max ms: {m.per_publish()}")


def print_allocations(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, readers: int
) -> None:
    """Python allocations the readers added, in bytes per reader, by file and by line."""
    for key in ("filename", "lineno"):
        differences = after.compare_to(before, key)
        total = sum(d.size_diff for d in differences)
        print(f"{'':>9}tracemalloc, bytes per reader by {key} (all: {total / readers:.0f}):")
        for difference in differences[:TRACEMALLOC_TOP]:
            frame = difference.traceback[0]
            where = frame.filename.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
            if key == "lineno":
                code = linecache.getline(frame.filename, frame.lineno).strip()[:60]
                where = f"{where}:{frame.lineno}  {code}"
            print(
                f"{'':>11}{difference.size_diff / readers:>8.0f}"
                f"  {difference.count_diff / readers:>6.1f} blocks  {where}"
            )


def print_summary(live: Measurement, bare: Measurement) -> None:
    ratio = live.percentile(0.99) / bare.percentile(0.99)
    publish_ms = sorted(1000 * s for s in live.publish_seconds)
    print(
        f"{'':>9}p99 liveblog/bare: {ratio:.1f}x   "
        f"RSS per idle reader: {live.rss_kib_per_reader:.1f} KiB "
        f"(bare {bare.rss_kib_per_reader:.1f})   "
        f"entry_publish() blocked: median {publish_ms[len(publish_ms) // 2]:.1f} ms, "
        f"max {publish_ms[-1]:.1f} ms   "
        f"idle readers cost {100 * live.idle_cpus:.0f}% of a CPU"
    )
    if live.collections:
        print(
            f"{'':>9}collections in Daphne during the fan-outs: "
            + ", ".join(
                f"generation {generation} {count:.0f} taking {seconds * 1000:.0f} ms"
                for generation, (count, seconds, _) in live.collections.items()
            )
            + f" (the longest full one {live.collections['2'][2] * 1000:.0f} ms)"
        )
    if live.frames != live.delivered:
        print(
            f"{'':>9}frames per reader: liveblog {live.frames / live.readers:.1f}, "
            f"bare {bare.frames / bare.readers:.1f}, "
            f"for {live.expected // live.readers} messages each"
        )


def main() -> int:
    global PUBLISH_INTERVAL_SECONDS
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--readers", type=int, nargs="+", default=[500, 2000], metavar="N")
    parser.add_argument("--publishes", type=int, default=20, metavar="P")
    parser.add_argument(
        "--burst", type=int, default=1, metavar="B", help="each publish is B back to back"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=PUBLISH_INTERVAL_SECONDS,
        metavar="SECONDS",
        help="between publishes (bursts)",
    )
    parser.add_argument("--smoke", action="store_true", help="N=200, P=5: a quick check for CI")
    parser.add_argument(
        "--sustained", action="store_true", help="N=2000, 10 publishes a second for a minute"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy raw stacks of Daphne")
    parser.add_argument("--verbose", action="store_true", help="p50/max of each publish too")
    parser.add_argument(
        "--layer",
        choices=["core", "pubsub"],
        help="channels-redis layer for Daphne (default: the settings' one)",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="Daphne's Python allocations per reader, by file and line (slows handshakes)",
    )
    parser.add_argument(
        "--no-fast-path",
        action="store_true",
        help="Daphne without liveblog/server.py's fast path (as after an upgrade it refuses)",
    )
    parser.add_argument(
        "--write-docs",
        type=Path,
        metavar="FILE",
        help="replace the current figures' table in FILE (docs/performance.md) with this run's",
    )
    args = parser.parse_args()
    if args.smoke:
        args.readers, args.publishes = [200], 5
    if args.sustained:
        args.readers, args.publishes, args.interval = [2000], 600, 0.1
    PUBLISH_INTERVAL_SECONDS = args.interval
    os.environ["LIVEBLOG_BENCH_INTERVAL"] = str(PUBLISH_INTERVAL_SECONDS)
    if args.publishes < 1 or min(args.readers) < 1 or args.burst < 1:
        parser.error("readers, publishes and burst must be positive")
    if args.write_docs:
        # Their latencies are the profiler's: not figures to publish.
        if args.tracemalloc or args.profile:
            parser.error("--write-docs measures without --tracemalloc and --profile")
        # The table is of the server as deployed.
        if args.no_fast_path:
            parser.error("--write-docs measures the server as deployed, with its fast path")
        # Before minutes of measuring, not after.
        try:
            figures.marker_lines(args.write_docs.read_text())
        except (OSError, ValueError) as error:
            parser.error(f"--write-docs {args.write_docs}: {error}")

    # Daphne inherits this, so it can hold N sockets too.
    raise_fd_limit()
    # SIGTERM (a CI timeout, say) must still run the finally blocks that stop Daphne.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    # Spawn, not fork: by the second N this process has Django, threads and sockets.
    context = multiprocessing.get_context("spawn")
    begun = time.monotonic()
    complete = True
    rows: list[tuple[Measurement, Measurement]] = []
    with tempfile.TemporaryDirectory(prefix="liveblog-bench-") as tmp:
        workdir = Path(tmp)
        env = bench_env(f"sqlite:///{workdir / 'bench.sqlite3'}", args.redis_url, args.layer)
        forget_stale_groups(args.redis_url)
        event = setup_django(env)

        what = f"bursts of {args.burst} publishes" if args.burst > 1 else "publishes"
        print(
            f"{args.publishes} {what} {PUBLISH_INTERVAL_SECONDS * 1000:.0f} ms apart per N; "
            "latency in ms from the start of a publish to its receipt"
        )
        print(HEADER)
        for readers in args.readers:
            live = measure_liveblog(
                context,
                event,
                env,
                workdir,
                readers,
                args.publishes,
                args.profile,
                args.tracemalloc,
                args.burst,
                ("--no-fast-path",) if args.no_fast_path else (),
            )
            print_row(live, args.verbose)
            if live.example_frame is None:
                raise RuntimeError("no liveblog frame arrived: nothing to broadcast bare")
            bare = measure_bare(context, live.example_frame, readers, args.publishes, args.burst)
            print_row(bare, args.verbose)
            print_summary(live, bare)
            sys.stdout.flush()
            rows.append((live, bare))
            complete &= live.delivered == live.expected and bare.delivered == bare.expected
        print(
            f"frame: {len(live.example_frame.encode())} bytes; "
            f"run took {time.monotonic() - begun:.0f} s"
        )
    if not complete:
        print("FAILED: some readers missed some messages", file=sys.stderr)
    if args.write_docs and complete:
        block = figures.table(
            rows,
            command=command_line(sys.argv[1:]),
            schedule=f"{args.publishes} {what} {PUBLISH_INTERVAL_SECONDS * 1000:.0f} ms apart",
            machine=figures.machine(args.redis_url, args.write_docs),
        )
        figures.write(args.write_docs, block)
        print(f"wrote the current figures to {args.write_docs}")
    elif args.write_docs:
        print(f"{args.write_docs} left as it was: a lost message is a bug, not a figure")
    return 0 if complete else 1


def command_line(arguments: list[str]) -> str:
    """How to measure the same again, without where the table went."""
    kept, skip = [], False
    for argument in arguments:
        if skip or argument.startswith("--write-docs="):
            skip = False
        elif argument == "--write-docs":
            skip = True
        else:
            kept.append(argument)
    return " ".join(["bench/fanout.py", *kept])


if __name__ == "__main__":
    sys.exit(main())
