"""The production shape under a crowd: N readers (default 20,000) of one event through
nginx in front of two Daphne processes, each part against a bare `websockets` server
behind the same nginx, in the same run.

    .venv/bin/python bench/cluster.py                  # 20,000 readers: about 10 minutes
    .venv/bin/python bench/cluster.py --readers 5000
    .venv/bin/python bench/cluster.py --smoke          # 400 readers; exits 1 on any loss

Needs PostgreSQL (--database-url; the database is dropped and made anew), Redis (default
redis://127.0.0.1:6379/6, whose asgi:group:* keys it deletes first), nginx
(apt-get install nginx-light) and room for 2N + a few open files per process: it raises its
own limit, which takes root beyond the hard limit (`ulimit -Hn`). Everything listens on
127.0.0.1. The processes are make cluster's (deploy/cluster.py's serve(): nginx with
deploy/nginx.conf, gunicorn, liveblog.server's Daphne); the readers' code is fanout.py's
and storm.py's, in CLIENT_PROCESSES processes.

1. Fan-out. The readers connect through nginx. A journalist logged in to the admin posts P
   entries on the desk, INTERVAL s apart: the admin's POST through nginx and gunicorn,
   PostgreSQL, one Redis message, both Daphne processes. Each headline carries time.time()
   taken before its POST started; a reader's latency is its receipt minus that. Reference:
   the Daphne processes stopped and two bare servers (fanout.py's) listening on their ports
   behind the same nginx, the same readers' code, broadcasting the frame liveblog's readers
   got, P times, INTERVAL s apart. Printed as fanout.py prints, then the p99 ratio.
2. Memory per idle reader: VmRSS of the Daphne processes, of nginx's workers and of the
   bare servers with the N readers connected, minus without them, divided by N. CPU per
   reader per publish: the Daphne processes', nginx's workers', from the first publish to
   the last receipt. Redis: PUBLISH commands per publish (the channel layer's one message).
3. Reconnect storm: storm.py's readers (static/live.js's backoff, ?since=, the catch-up)
   through nginx; every Daphne process stopped at once (SIGTERM), K entries published, all
   started again; against the bare servers stopped and started again with the same
   downtime. Printed as storm.py prints, then the ratio of the time to the last reader.

Exits 1 unless every reader got every frame and every reader of the storms ended exact.
"""

import argparse
import asyncio
import collections
import contextlib
import math
import multiprocessing
import os
import re
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import fanout
import storm
import upload

sys.path.insert(0, str(fanout.ROOT))
from deploy import cluster as deploy_cluster  # noqa: E402  (the processes make cluster runs)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/liveblog_bench_cluster"
DEFAULT_REDIS_URL = f"redis://{fanout.HOST}:6379/6"  # fanout.py 3, storm.py 4, upload.py 5
DAPHNES = 2
# One asyncio process holds a few thousand readers' frames per publish in well under a
# second; the machine's cores are shared with the servers under test either way.
CLIENT_PROCESSES = 4
# Each reader holds a socket here, in nginx (two) and in a server: room for N of them.
OPEN_FILES = 200_000
PUBLISH_INTERVAL_SECONDS = 2.0  # a fan-out to 20,000 readers ends well within it
READER_NICENESS = -10
TARGET_RATIO = 1.5  # issue 18: the p99, and the storm's last reader, within 1.5× the bare


def raise_open_files_limit() -> None:
    """Up to OPEN_FILES if this process may (root), else up to the hard limit; the servers
    and reader processes started from here inherit it."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    fanout.raise_fd_limit()


def nginx_workers(readers: int) -> int | None:
    """None (one per core, as deploy/nginx.conf says) if they can hold two connections
    per reader under this process's limit of open files, else as many as it takes."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per_worker = int(0.8 * min(limit, deploy_cluster.local_nginx.OPEN_FILES))
    needed = math.ceil(2 * readers / per_worker)
    return None if needed <= (os.cpu_count() or 1) else needed


def workers_of(nginx: int) -> list[int]:
    """nginx's worker processes, from its master's pid: not its cache loader, which exits
    a minute after the start, nor its cache manager."""
    children = Path(f"/proc/{nginx}/task/{nginx}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"nginx: worker process")
    ]


def rss_kib(pids: list[int]) -> int:
    return sum(fanout.vm_rss_kib(pid) for pid in pids)


def cpu_seconds(pids: list[int]) -> float:
    return sum(fanout.cpu_seconds(pid) for pid in pids)


def redis_publishes(redis_url: str) -> int:
    """PUBLISH commands Redis has run so far: channels-redis's pubsub layer sends one per
    group message, which Redis hands to every process subscribed."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        return int(client.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))
    finally:
        client.close()


@dataclass
class Shape:
    """The cluster under test, and what to measure of it."""

    cluster: deploy_cluster.Cluster
    port: int  # nginx's
    workdir: Path

    @property
    def daphnes(self) -> list[deploy_cluster.Process]:
        return [each for each in self.cluster.processes if each.name.startswith("daphne-")]

    def nginx_workers(self) -> list[int]:
        (nginx,) = [each for each in self.cluster.processes if each.name == "nginx"]
        return workers_of(nginx.popen.pid)

    def reader_url(self) -> str:
        """As the live page opens its socket, for the compact frame (docs/api.md)."""
        return f"ws://{fanout.HOST}:{self.port}/ws/live/{fanout.SLUG}/?entry=card"

    def stop_daphnes(self) -> list[deploy_cluster.Process]:
        """Every Daphne process stopped at once (SIGTERM), as a deploy that restarts them
        all together does; returns them, to start again."""
        stopped = self.daphnes
        for process in stopped:
            process.popen.terminate()
        for process in stopped:
            self.cluster.stop_one(process)
        return stopped

    def start_daphnes(self, stopped: list[deploy_cluster.Process]) -> None:
        """Starts them all again at once; returns once each port takes connections."""
        for process in stopped:
            self.cluster.start(process.name, process.command, process.port, ready=None)
        for process in stopped:
            deploy_cluster.wait_listening(process.port)

    def nginx_errors(self) -> list[tuple[str, int]]:
        """What nginx logged at error or worse (a refused upstream, too few connections),
        without times and addresses, commonest first."""
        log = self.workdir / "nginx" / "error.log"
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        return collections.Counter(
            NGINX_LOG_LINE.sub(r"\1 \2", line).split(", client:")[0]
            for line in lines
            if any(f"[{level}]" in line for level in ("error", "crit", "alert", "emerg"))
        ).most_common(5)


# `2026/12/05 06:05:09 [error] 9996#9996: *123 connect() failed ... , client: ...`
NGINX_LOG_LINE = re.compile(r"^\S+ \S+ (\[\w+\]) \d+#\d+: (?:\*\d+ )?(.*)$")


def before_the_servers(pid: int) -> None:
    """In a storm, a reader process runs before the servers when both want a core: it
    stands in for thousands of browsers, each with a CPU of its own, and one too busy to
    send its handshakes in time (nginx drops a connection silent for 10 s) would be
    measured as the server's slowness. Not in the fan-out, where being late to read costs
    both systems alike, and where a starved server would be measured instead (each frame
    written in smaller pieces). Needs root; the storm's rows say how late the reader
    processes were."""
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, pid, READER_NICENESS)


def split(readers: int) -> list[int]:
    """The readers of each client process."""
    processes = min(CLIENT_PROCESSES, readers)
    return [readers // processes + (i < readers % processes) for i in range(processes)]


# 1 and 2: the fan-out, memory and CPU -------------------------------------------------


@dataclass
class Costs:
    """Per idle reader, KiB of VmRSS; per reader per publish, µs of CPU."""

    server_kib: float
    nginx_kib: float
    server_us: float = math.nan
    nginx_us: float = math.nan


@dataclass
class Readers:
    """The readers' processes, connected through nginx, and what they cost when idle."""

    clients: list[fanout.Client]
    connect_seconds: float
    costs: Costs


@contextlib.contextmanager
def readers_of(context, shape: Shape, server_pids: list[int], args) -> Iterator[Readers]:
    """The readers connected through nginx to the servers (server_pids), with the memory
    they cost those and nginx's workers; gone at the end of the block."""
    workers = shape.nginx_workers()
    time.sleep(fanout.RSS_SETTLE_SECONDS)
    idle = rss_kib(server_pids), rss_kib(workers)
    clients = [
        fanout.Client(context, shape.reader_url(), count, args.publishes)
        for count in split(args.readers)
    ]
    try:
        connect_seconds = max(client.wait_ready() for client in clients)
        time.sleep(fanout.RSS_SETTLE_SECONDS)
        costs = Costs(
            (rss_kib(server_pids) - idle[0]) / args.readers,
            (rss_kib(workers) - idle[1]) / args.readers,
        )
        yield Readers(clients, connect_seconds, costs)
    finally:
        for client in clients:
            client.stop()


def measure_fan_out(
    system: str, shape: Shape, readers: Readers, server_pids: list[int], publish, args
) -> fanout.Measurement:
    """publish() sends the P messages; every reader's, once each has all (or gave up), as
    one measurement, with the CPU the servers and nginx's workers spent meanwhile."""
    workers = shape.nginx_workers()
    client_pids = [client.process.pid for client in readers.clients]
    with fanout.Elsewhere(*server_pids, *workers, *client_pids) as elsewhere:
        cpu_before = cpu_seconds(server_pids), cpu_seconds(workers)
        publish()
        samples, delivered, frames, example = [], 0, 0, None
        for client in readers.clients:
            some, count, carried, frame = client.drain()
            samples += some
            delivered, frames, example = delivered + count, frames + carried, example or frame
        cpu = cpu_seconds(server_pids) - cpu_before[0], cpu_seconds(workers) - cpu_before[1]
    messages = args.readers * args.publishes
    readers.costs.server_us = 1e6 * cpu[0] / messages
    readers.costs.nginx_us = 1e6 * cpu[1] / messages
    return fanout.Measurement(
        system,
        args.readers,
        messages,
        delivered,
        samples,
        readers.connect_seconds,
        cpu[0],
        frames,
        example,
        elsewhere_cpus=elsewhere.cpus,
    )


def measure_liveblog_fan_out(
    context, shape: Shape, journalist: upload.Journalist, desk: str, args
) -> tuple[fanout.Measurement, Costs, float]:
    """The fan-out through the cluster, its costs, and Redis PUBLISH commands per publish."""
    daphnes = [process.popen.pid for process in shape.daphnes]
    answered: list[float] = []

    def publish() -> None:
        started = time.monotonic()
        for i in range(args.publishes):
            time.sleep(max(0.0, started + i * PUBLISH_INTERVAL_SECONDS - time.monotonic()))
            answered.append(post(journalist, desk, f"t={time.time()!r}"))

    with readers_of(context, shape, daphnes, args) as readers:
        post(journalist, desk, fanout.WARM_UP_HEADLINE)
        time.sleep(PUBLISH_INTERVAL_SECONDS)
        publishes_before = redis_publishes(args.redis_url)
        measurement = measure_fan_out("liveblog", shape, readers, daphnes, publish, args)
        redis_per_publish = (redis_publishes(args.redis_url) - publishes_before) / args.publishes
    measurement.publish_seconds = answered
    return measurement, readers.costs, redis_per_publish


def post(journalist: upload.Journalist, desk: str, headline: str) -> float:
    """One entry posted on the desk as a browser posts it; seconds until the desk answered."""
    body, headers = journalist.form(upload.post_fields(headline, None, body=fanout.BODY))
    started = time.monotonic()
    status, page = journalist.request("POST", desk, body, headers)
    if status != HTTPStatus.FOUND:  # back to the desk: the entry is published
        raise RuntimeError(upload.refusal(status, page))
    return time.monotonic() - started


@contextlib.contextmanager
def bare_servers(context, shape: Shape):
    """One bare server process (fanout.py's) per Daphne port, the Daphne processes stopped
    meanwhile, so that nginx sends the readers to them; the Daphne processes are started
    again after."""
    stopped = shape.stop_daphnes()
    servers = []
    try:
        for process in stopped:
            conn, child = context.Pipe()
            server = context.Process(target=fanout.bare_server_main, args=(child, process.port))
            server.start()
            child.close()
            servers.append((conn, server))
        for conn, _ in servers:
            fanout.receive(conn, fanout.SERVER_START_SECONDS, "bare server")
        yield servers
    finally:
        for conn, server in servers:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
            server.join(timeout=fanout.SERVER_STOP_SECONDS)
            if server.is_alive():
                server.kill()
                server.join(timeout=fanout.SERVER_STOP_SECONDS)
        shape.start_daphnes(stopped)


def measure_bare_fan_out(
    context, shape: Shape, frame: str, args
) -> tuple[fanout.Measurement, Costs]:
    with bare_servers(context, shape) as servers:
        pids = [server.pid for _, server in servers]

        def publish() -> None:
            # Both at once: each broadcasts a warm-up, then P frames INTERVAL s apart.
            for conn, _ in servers:
                conn.send(("broadcast", frame, args.publishes, 1))
            for conn, _ in servers:
                timeout = (args.publishes + 1) * PUBLISH_INTERVAL_SECONDS + 60
                fanout.receive(conn, timeout, "bare broadcast")

        with readers_of(context, shape, pids, args) as readers:
            measurement = measure_fan_out("bare", shape, readers, pids, publish, args)
    return measurement, readers.costs


# 3: the reconnect storm ----------------------------------------------------------------


def storm_clients(context, shape: Shape, readers: int) -> tuple[list, float]:
    changes = (fanout.HOST, shape.port, storm.changes_path())
    clients = [
        storm.StormClient(context, shape.reader_url(), changes, count) for count in split(readers)
    ]
    for client in clients:
        before_the_servers(client.process.pid)
    return clients, max(client.wait_ready() for client in clients)


def measure_liveblog_storm(context, shape: Shape, event, args) -> tuple[storm.Storm, bytes]:
    from updates.services import entry_publish

    clients, connect_seconds = storm_clients(context, shape, args.readers)
    stopped: list[deploy_cluster.Process] = []
    try:

        def stop() -> None:
            stopped[:] = shape.stop_daphnes()

        def publish_while_down() -> int:
            for i in range(args.published):
                entry_publish(
                    event=event, author=None, headline=f"While down {i}", body=fanout.BODY
                )
            event.refresh_from_db()
            return event.revision

        result = storm.run_storm(
            "liveblog",
            clients,
            connect_seconds,
            stop,
            publish_while_down,
            lambda: shape.start_daphnes(stopped),
            lambda: [process.popen.pid for process in shape.daphnes],
        )
        result.server_errors = [
            line for process in shape.daphnes for line in storm.logged_errors(process.log)
        ]
    finally:
        for client in clients:
            client.stop()
    # What a reader got from changes/, for the bare servers to answer with.
    since = event.revision - args.published
    path = f"{storm.changes_path()}?since={since}"
    status, body = asyncio.run(storm.http_get(fanout.HOST, shape.port, path))
    if status != HTTPStatus.OK:
        raise RuntimeError(f"changes/ answered {status} once the readers had left")
    return result, body


def measure_bare_storm(
    context, shape: Shape, first: int, downtime: float, catch_up: bytes, args
) -> storm.Storm:
    backlog = storm.DAPHNE_BACKLOG
    ports = [process.port for process in shape.daphnes]
    stopped = shape.stop_daphnes()
    servers = [storm.BareServer(context, port, first, catch_up, 0.0, backlog) for port in ports]
    for server in servers:
        server.wait_listening()
    clients: list[storm.StormClient] = []
    try:
        clients, connect_seconds = storm_clients(context, shape, args.readers)
        stopping = time.time()

        def stop() -> None:
            for server in servers:
                server.stop()

        def start() -> None:
            # Started now, listening only once Daphne would have served again.
            revision = first + args.published
            servers[:] = [
                storm.BareServer(context, port, revision, catch_up, stopping + downtime, backlog)
                for port in ports
            ]
            for server in servers:
                server.wait_listening()

        return storm.run_storm(
            "bare",
            clients,
            connect_seconds,
            stop,
            lambda: first + args.published,
            start,
            lambda: [server.process.pid for server in servers],
        )
    finally:
        for client in clients:
            client.stop()
        for server in servers:
            server.stop()
        shape.start_daphnes(stopped)


# The run -------------------------------------------------------------------------------


def print_costs(live: Costs, bare: Costs, redis_per_publish: float) -> None:
    print(
        f"{'':>9}per idle reader: Daphne {live.server_kib:.1f} KiB, nginx {live.nginx_kib:.1f} "
        f"KiB (bare server {bare.server_kib:.1f}, nginx {bare.nginx_kib:.1f})"
    )
    print(
        f"{'':>9}CPU per reader per publish: Daphne {live.server_us:.1f} µs, nginx "
        f"{live.nginx_us:.1f} µs (bare server {bare.server_us:.1f}, nginx {bare.nginx_us:.1f})"
        f"   Redis PUBLISH per publish: {redis_per_publish:.1f}"
    )


def ratio_line(what: str, live: float, bare: float, unit: str) -> str:
    ratio = live / bare
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    return (
        f"{'':>9}{what}: liveblog {live:.2f} {unit}, bare {bare:.2f} {unit}: {ratio:.2f}x "
        f"({verdict} {TARGET_RATIO}x)"
    )


def run(context, args, workdir: Path) -> bool:
    """Both parts, or the one asked for; True if no reader missed anything."""
    env = (
        fanout.bench_env(args.database_url, args.redis_url, None)
        | storm.UNREACHED_RATE_LIMITS
        # Every reader's address is nginx's X-Forwarded-For, as in production.
        | {"TRUSTED_PROXIES": "127.0.0.1"}
    )
    fanout.database_afresh(args.database_url)
    fanout.forget_stale_groups(args.redis_url)
    event = fanout.setup_django(env)
    upload.journalist_create()
    shape = Shape(deploy_cluster.Cluster(workdir, os.environ | env), fanout.free_port(), workdir)
    try:
        workers = nginx_workers(args.readers)
        if workers:
            print(
                f"nginx with {workers} workers, not one per core: this machine lets a process "
                f"hold {resource.getrlimit(resource.RLIMIT_NOFILE)[1]} open files"
            )
        deploy_cluster.serve(shape.cluster, DAPHNES, shape.port, workers)
        good = True
        if args.part in (None, "fan-out"):
            good &= fan_out(context, shape, event, args)
        if args.part in (None, "storm"):
            good &= reconnect_storm(context, shape, event, args)
        return good
    finally:
        for line, count in shape.nginx_errors():
            print(f"{'':>9}nginx logged {count} times: {line[:160]}")
        shape.cluster.stop()


def fan_out(context, shape: Shape, event, args) -> bool:
    """Part 1 and 2; True if every reader got every frame."""
    from django.urls import reverse

    desk = reverse("admin:updates_event_desk", args=[event.pk])
    journalist = upload.Journalist(shape.port)
    journalist.log_in()
    print(
        f"{args.readers} readers through nginx, {DAPHNES} Daphne processes; {args.publishes} "
        f"entries posted on the desk {PUBLISH_INTERVAL_SECONDS:.0f} s apart; latency in ms "
        "from the start of the POST to the receipt"
    )
    print(fanout.HEADER)
    live, live_costs, redis_per_publish = measure_liveblog_fan_out(
        context, shape, journalist, desk, args
    )
    fanout.print_row(live, args.verbose)
    if live.example_frame is None:
        raise RuntimeError("no liveblog frame arrived: nothing to broadcast bare")
    bare, bare_costs = measure_bare_fan_out(context, shape, live.example_frame, args)
    fanout.print_row(bare, args.verbose)
    print(ratio_line("p99", live.percentile(0.99), bare.percentile(0.99), "ms"))
    answered = sorted(live.publish_seconds)
    print(f"{'':>9}the desk answered the POST in {1000 * answered[len(answered) // 2]:.0f} ms")
    print_costs(live_costs, bare_costs, redis_per_publish)
    sys.stdout.flush()
    return live.delivered == live.expected and bare.delivered == bare.expected


def reconnect_storm(context, shape: Shape, event, args) -> bool:
    """Part 3; True if every reader ended exact."""
    print(
        f"\nReconnect storm: every Daphne process stopped at once, {args.published} entries "
        "published meanwhile, all started again; seconds from the stop"
    )
    print(storm.HEADER)
    live, catch_up = measure_liveblog_storm(context, shape, event, args)
    storm.print_row(live)
    sys.stdout.flush()
    first = event.revision - args.published
    bare = measure_bare_storm(context, shape, first, live.downtime, catch_up, args)
    storm.print_row(bare)
    print(ratio_line("the last reader caught up", live.caught_up(1.0), bare.caught_up(1.0), "s"))
    return not any(each.errors()["not exact"] for each in (live, bare))


def main() -> int:
    global PUBLISH_INTERVAL_SECONDS
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--readers", type=int, default=20_000, metavar="N")
    parser.add_argument("--publishes", type=int, default=5, metavar="P")
    parser.add_argument(
        "--interval", type=float, default=PUBLISH_INTERVAL_SECONDS, metavar="SECONDS"
    )
    parser.add_argument(
        "--published", type=int, default=5, metavar="K", help="entries published while down"
    )
    parser.add_argument(
        "--part", choices=["fan-out", "storm"], help="only this part (default: both)"
    )
    parser.add_argument("--smoke", action="store_true", help="N=400: a quick check for CI")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--verbose", action="store_true", help="p50/max of each publish too")
    args = parser.parse_args()
    if args.smoke:
        args.readers = 400
    if min(args.readers, args.publishes, args.published) < 1:
        parser.error("readers, publishes and published must be positive")
    if deploy_cluster.local_nginx.nginx_binary() is None:
        parser.error("needs nginx: apt-get install nginx-light")
    PUBLISH_INTERVAL_SECONDS = args.interval
    # The bare servers' schedule, in the processes spawned from here (fanout.py reads it).
    os.environ["LIVEBLOG_BENCH_INTERVAL"] = str(args.interval)
    fanout.PUBLISH_INTERVAL_SECONDS = args.interval

    raise_open_files_limit()
    # SIGTERM (a CI timeout, say) must still run the finally blocks that stop the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    context = multiprocessing.get_context("spawn")
    begun = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="liveblog-bench-cluster-") as tmp:
        good = run(context, args, Path(tmp))
    print(f"run took {time.monotonic() - begun:.0f} s")
    if not good:
        print("FAILED: a reader missed a frame, or did not end exact", file=sys.stderr)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
