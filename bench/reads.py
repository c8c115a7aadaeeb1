"""HTTP benchmark: the live page and "Load more" of an event with 100,000 entries, served
by gunicorn (WSGI, deploy/gunicorn.conf.py), by Daphne (ASGI), and as production serves
them, by nginx (deploy/nginx.conf) in front of gunicorn, each measured against its own
trivial view.

    .venv/bin/python bench/reads.py                      # 100,000 entries, 10 s of wrk per URL
    .venv/bin/python bench/reads.py --servers gunicorn   # some of the three servers
    .venv/bin/python bench/reads.py --entries 1000 --seconds 2   # a quick look
    .venv/bin/python bench/reads.py --smoke --database-url sqlite:////tmp/smoke.sqlite3

Needs a database made anew (default PostgreSQL at
postgres://postgres@127.0.0.1:5432/liveblog_bench, dropped first; a sqlite:/// file is
deleted first), Redis (redis://127.0.0.1:6379/3, the cache), and `wrk` (Debian's
package), and nginx for the third (Debian's nginx-light). Everything listens on 127.0.0.1.

For each server: the server is started with the production settings (DEBUG off, Redis
cache, no rate limit: this measures serving, not the limiter; nginx: HTTPS with a
self-signed certificate, its cache in a temporary folder), and wrk (a separate
process, 1 thread, 20 connections) measures each URL in turn, the trivial JSON view
/healthz first. Then the same server with bench/settings_uncached.py (no cache at all)
serves the newest pages, for the price of building them on every request. "Load more" is
asked as the page's script asks it, with the revision the page shows (`min_revision=`, which
the server may answer from the pages it holds), and without, as another client may.

Printed per URL: requests per second, the ratio to that server's trivial view, latency
p50 and p99, answers that were not 2xx (wrk's socket errors included), the server's
CPU time per request (its processes' user and system time over the requests wrk
finished: steadier than requests per second on a shared machine), and the machine's
load average (1 min) when the URL was done: requests per second taken while the load is
above the number of cores say more about the machine than about the code. Then the
ratios: cached newest page over uncached, and gunicorn over Daphne. --smoke: a few
hundred entries, 1 s and 4 connections per URL. Exits 1 if any answer was not 2xx.
"""

import argparse
import json
import os
import re
import runpy
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # noqa: E402  (its environment and set-up; same folder)

sys.path.insert(0, str(fanout.ROOT))
from deploy import local_nginx  # noqa: E402

ROOT, HOST, SLUG = fanout.ROOT, fanout.HOST, fanout.SLUG
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/liveblog_bench"
DEFAULT_REDIS_URL = f"redis://{HOST}:6379/3"
GUNICORN_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 10.0
SMOKE_ENTRIES = 300
FILL_BATCH = 5_000


@dataclass(frozen=True)
class Url:
    label: str
    path: str
    # The newest pages are also measured without the cache, under this label.
    uncached_label: str | None = None


# The database ---------------------------------------------------------------------------


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    # Every request comes from 127.0.0.1: measure serving, not the rate limiter.
    return fanout.bench_env(database_url, redis_url, layer=None) | {
        "RATE_LIMIT_API_PER_MINUTE": "0"
    }


def fill(event, entries: int) -> None:
    """`entries` live entries a second apart, the newest published last."""
    from django.db import connection
    from django.utils import timezone

    from updates.models import Entry, Event

    now = timezone.now()
    for start in range(1, entries + 1, FILL_BATCH):
        Entry.objects.bulk_create(
            Entry(
                event=event,
                headline=f"Update {n}",
                body=f"<p>What happened in update {n}.</p>",
                byline="Bench Reporter, Correspondent",
                published_at=now - timedelta(seconds=entries - n),
                key_event=n % 500 == 0,
                live=True,
                revision=n,
            )
            for n in range(start, min(start + FILL_BATCH, entries + 1))
        )
    Event.objects.filter(pk=event.pk).update(revision=entries)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def cursor_before_page(event, page: int) -> str:
    """The cursor a reader holds after `page - 1` pages of "Load more"."""
    from updates.models import Entry
    from updates.selectors import PAGE_SIZE, Cursor

    last = Entry.objects.visible().filter(event=event).newest_first()[(page - 1) * PAGE_SIZE - 1]
    return Cursor(event.pk, last.published_at, last.pk).encode()


def urls_to_measure(event, entries: int) -> list[Url]:
    from updates.selectors import PAGE_SIZE

    pages = [100, 5000] if entries >= PAGE_SIZE * 5000 else [2, max(2, entries // PAGE_SIZE // 2)]
    urls = [
        Url("trivial JSON view (/healthz)", "/healthz"),
        Url("live page (cached by revision)", f"/live/{SLUG}/", "live page, no cache"),
        Url(
            "API newest page (cached)", f"/api/events/{SLUG}/entries/", "API newest page, no cache"
        ),
    ]
    event.refresh_from_db()
    for page in pages:
        cursor = quote(cursor_before_page(event, page))
        page_url = f"/api/events/{SLUG}/entries/?before={cursor}"
        urls += [
            # As the page's script asks: with the revision it shows.
            Url(f"API page {page} (Load more)", f"{page_url}&min_revision={event.revision}"),
            # As another client may: for the event's latest revision.
            Url(f"API page {page}, no min_revision", page_url),
            Url(f"live page {page}, no JavaScript", f"/live/{SLUG}/?before={cursor}"),
        ]
    return urls


# The servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def gunicorn_workers() -> int:
    return runpy.run_path(str(GUNICORN_CONFIG))["workers"]


def opener() -> urllib.request.OpenerDirector:
    # nginx's certificate is its own, self-signed: this only measures.
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=unverified)
    )


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (gunicorn's or nginx's
    workers)."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = 0
    for each in pids:
        # Fields 14 and 15 (utime, stime), counted after the ")" ending the name.
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_process_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=SERVER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SERVER_STOP_SECONDS)


class Server:
    """One server process (gunicorn's master and workers, or one Daphne) on a free port."""

    def __init__(self, kind: str, env: dict[str, str], log_dir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log_dir / f"{kind}-{env['DJANGO_SETTINGS_MODULE']}.log"
        if kind == "gunicorn":
            command = ["-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "-b", f"{HOST}:{self.port}"]
            # Workers live through the run, so their CPU time is all counted.
            command += ["--max-requests", "0", "liveblog.wsgi:application"]
        else:
            # Daphne as production runs it, with liveblog's limits.
            command = ["-m", "liveblog.server", "-b", HOST, "-p", str(self.port)]
            command += ["liveblog.asgi:application"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *command],
                cwd=ROOT,
                env=os.environ | env | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: gunicorn's workers go with their master.
                start_new_session=True,
            )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited; its log:\n{self.log()}")
            try:
                with opener().open(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not serve in time; its log:\n{self.log()}")
            time.sleep(0.1)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with opener().open(self.base + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def cpu_seconds(self) -> float:
        return process_tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        stop_process_group(self.process)


class NginxInFront(Server):
    """nginx with deploy/nginx.conf (made local by deploy/local_nginx.py) in front of a
    gunicorn, as production serves pages and the API: over HTTPS, with "Load more" pages
    that say their revision kept in nginx's cache. Its CPU time is nginx's and gunicorn's.
    daphne: a Daphne behind /ws/ too, for a browser's visit (bench/lighthouse.py);
    media_root: the folder nginx serves /media/ from."""

    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        *,
        daphne: bool = False,
        media_root: Path | None = None,
    ) -> None:
        self.kind = "nginx"
        self.upstream = Server("gunicorn", env, log_dir)
        self.websockets = Server("daphne", env, log_dir) if daphne else None
        directory = Path(tempfile.mkdtemp(prefix="nginx-", dir=log_dir))
        https_port = free_port()
        config = local_nginx.nginx_config(
            directory,
            http_port=free_port(),
            https_port=https_port,
            gunicorn_port=self.upstream.port,
            # Without a Daphne, /ws/ answers 502: nothing measured here asks it.
            daphne_ports=[self.websockets.port if self.websockets else free_port()],
            media_root=media_root,
        )
        self.base = f"https://{HOST}:{https_port}"
        self.log_path = directory / "error.log"
        self.process = subprocess.Popen(
            [local_nginx.nginx_binary(), "-p", str(directory), "-c", str(config)]
            # -e: what goes wrong before the config is read is logged there too.
            + ["-e", str(self.log_path), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_until_serving(self) -> None:
        self.upstream.wait_until_serving()
        if self.websockets:
            self.websockets.wait_until_serving()
        super().wait_until_serving()

    def log(self) -> str:
        daphne = f"\nDaphne's log:\n{self.websockets.log()}" if self.websockets else ""
        return f"{self.upstream.log()}{daphne}\nnginx's error.log:\n{super().log()}"

    def cpu_seconds(self) -> float:
        return super().cpu_seconds() + self.upstream.cpu_seconds()

    def stop(self) -> None:
        super().stop()
        self.upstream.stop()
        if self.websockets:
            self.websockets.stop()


SERVED_BY = {
    "gunicorn": f"{gunicorn_workers()} sync workers",
    "daphne": "one process",
    "nginx": "deploy/nginx.conf, HTTPS, in front of the same gunicorn",
}


def start_server(kind: str, env: dict[str, str], log_dir: Path) -> Server:
    return NginxInFront(env, log_dir) if kind == "nginx" else Server(kind, env, log_dir)


def check_answer(server: Server, url: Url) -> str | None:
    """Why the URL's answer is wrong, or None: wrk counts statuses, not what was said."""
    status, body = server.get(url.path)
    if status != 200:
        return f"{url.path} answered {status}: {body[:300]!r}"
    if url.path.startswith("/api/"):
        if not json.loads(body)["entries"]:
            return f"{url.path} gave no entries"
    elif url.path.startswith("/live/") and b'class="entry' not in body:
        return f"{url.path} shows no entry"
    return None


# Measuring ------------------------------------------------------------------------------


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    out = result.stdout

    def millis(label: str) -> float:
        found = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        if found is None:
            raise RuntimeError(f"no {label} latency in wrk's output:\n{out}")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }


COLUMNS = ["req/s", "vs trivial", "p50 ms", "p99 ms", "errors", "CPU ms", "load"]


def print_row(label: str, row: dict[str, float], trivial: float) -> None:
    print(
        f"  {label:40} {row['rps']:10.0f} {row['rps'] / trivial:9.2f}x "
        f"{row['p50']:10.1f} {row['p99']:10.1f} {row['errors']:10d} {row['cpu_ms']:10.2f} "
        f"{os.getloadavg()[0]:10.2f}"
    )


def measure_server(
    kind: str, urls: list[Url], env: dict[str, str], args, log_dir: Path
) -> tuple[dict[str, dict], list[str]]:
    """Every URL on `kind` with the cache, then the newest pages without it."""
    rows: dict[str, dict] = {}
    problems: list[str] = []
    print(f"{kind} ({SERVED_BY[kind]})")
    uncached_env = env | {"DJANGO_SETTINGS_MODULE": "bench.settings_uncached"}
    runs = [
        (env, [(url, url.label) for url in urls]),
        (uncached_env, [(url, url.uncached_label) for url in urls if url.uncached_label]),
    ]
    for settings_env, labelled in runs:
        server = start_server(kind, settings_env, log_dir)
        found: list[str] = []
        try:
            server.wait_until_serving()
            for url, label in labelled:
                problem = check_answer(server, url)
                if problem:
                    found.append(f"{kind}: {problem}")
                cpu_before = server.cpu_seconds()
                rows[label] = row = wrk(server.base + url.path, args.seconds, args.connections)
                row["cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / row["requests"]
                print_row(label, row, rows[urls[0].label]["rps"])
                if row["errors"]:
                    found.append(f"{kind}: {row['errors']} errors on {label}")
        finally:
            server.stop()
        if found:
            print(f"The end of {server.log_path.name}:\n{server.log()}")
        problems += found
    return rows, problems


def print_ratios(results: dict[str, dict[str, dict]], urls: list[Url]) -> None:
    print("Ratios")
    load_more = [url.label for url in urls if url.label.startswith("API page")]
    for kind, rows in results.items():
        trivial = rows[urls[0].label]["rps"]
        for label in load_more:
            by_cpu = rows[urls[0].label]["cpu_ms"] / rows[label]["cpu_ms"]
            print(
                f"  {kind}: {label} / trivial view: {rows[label]['rps'] / trivial:.2f}x "
                f"(by server CPU per request: {by_cpu:.2f}x)"
            )
        for url in urls:
            if url.uncached_label:
                cached, uncached = rows[url.label], rows[url.uncached_label]
                print(
                    f"  {kind}: {url.label} / {url.uncached_label}: "
                    f"{cached['rps'] / uncached['rps']:.1f}x "
                    f"(by server CPU per request: {uncached['cpu_ms'] / cached['cpu_ms']:.1f}x)"
                )
    if {"gunicorn", "daphne"} <= results.keys():
        gunicorn, daphne = results["gunicorn"], results["daphne"]
        for label in [urls[0].label, *load_more]:
            ratio = gunicorn[label]["rps"] / daphne[label]["rps"]
            print(f"  gunicorn / daphne, {label}: {ratio:.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="of wrk per URL")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--servers", nargs="+", choices=list(SERVED_BY))
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--smoke", action="store_true", help=f"{SMOKE_ENTRIES} entries, 1 s, 4 connections"
    )
    args = parser.parse_args()
    if args.smoke:
        args.entries, args.seconds, args.connections = SMOKE_ENTRIES, 1, 4
    servers = args.servers or list(SERVED_BY)
    if shutil.which("wrk") is None:
        parser.error("needs wrk: apt-get install wrk")
    if "nginx" in servers and local_nginx.nginx_binary() is None:
        parser.error("needs nginx for --servers nginx: apt-get install nginx-light")
    if urlparse(args.database_url).scheme not in ("postgres", "postgresql", "sqlite"):
        parser.error("--database-url: a postgres:// or sqlite:/// URL")

    fanout.database_afresh(args.database_url)
    env = server_env(args.database_url, args.redis_url)
    event = fanout.setup_django(env)
    started = time.monotonic()
    fill(event, args.entries)
    print(f"{args.entries} entries written in {time.monotonic() - started:.1f} s")
    urls = urls_to_measure(event, args.entries)

    print(f"wrk: 1 thread, {args.connections} connections, {args.seconds} s per URL")
    print(f"  {'URL':40} " + " ".join(f"{column:>10}" for column in COLUMNS))
    results, problems = {}, []
    with tempfile.TemporaryDirectory(prefix="liveblog-http-bench-") as tmp:
        for kind in servers:
            results[kind], found = measure_server(kind, urls, env, args, Path(tmp))
            problems += found
    print_ratios(results, urls)
    for problem in problems:
        print(f"Error: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
