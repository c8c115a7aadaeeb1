"""HTTP benchmark: the live page and "Load more" pages of an event with 100,000 entries.

    .venv/bin/python bench/reads.py                 # 100,000 entries, 10 s of wrk per URL
    .venv/bin/python bench/reads.py --entries 1000 --seconds 2   # a quick look

Needs PostgreSQL (default postgres://postgres@127.0.0.1:5432/liveblog_bench, dropped and
made anew), Redis (redis://127.0.0.1:6379/3, the page cache), and `wrk` (Debian's
package). Everything listens on 127.0.0.1.

One real Daphne process serves; wrk (a separate process, 1 thread, 20 connections)
measures each URL in turn, then the same for /healthz, a trivial JSON view on the same
server: each row's "vs trivial" is its requests per second over the trivial view's.
Printed per URL: requests per second, latency p50 and p99, and non-2xx answers.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # noqa: E402  (its Daphne, settings and set-up; same folder)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/liveblog_bench"
PAGE_SIZE = 20


def database_afresh(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def fill(event, entries: int) -> None:
    """`entries` live entries a second apart, newest last published, in one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO updates_entry (event_id, headline, body, byline, published_at,
                updated_at, pinned, key_event, draft, correction, live, revision, version)
            SELECT %s, 'Update ' || g, '<p>What happened in update ' || g || '.</p>',
                'Bench Reporter, Correspondent', now() - ((%s - g) || ' seconds')::interval,
                now(), false, g %% 500 = 0, false, '', true, g, 1
            FROM generate_series(1, %s) AS g
            """,
            [event.pk, entries, entries],
        )
        cursor.execute("UPDATE updates_event SET revision = %s WHERE id = %s", [entries, event.pk])
        cursor.execute("ANALYZE updates_entry")


def cursor_before_page(event, page: int) -> str:
    """The cursor a reader holds after `page - 1` pages of "Load more"."""
    from updates.models import Entry
    from updates.selectors import Cursor

    last = Entry.objects.visible().filter(event=event).newest_first()[(page - 1) * PAGE_SIZE - 1]
    return Cursor(event.pk, last.published_at, last.pk).encode()


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
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": millis("50%"),
        "p99": millis("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="of wrk per URL")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--redis-url", default=fanout.DEFAULT_REDIS_URL)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("needs wrk: apt-get install wrk")
    if args.entries < PAGE_SIZE * 5000:
        pages = [2, max(2, args.entries // PAGE_SIZE // 2)]
    else:
        pages = [100, 5000]

    database_afresh(args.database_url)
    env = fanout.bench_env(args.database_url, args.redis_url)
    event = fanout.setup_django(env)
    started = time.monotonic()
    fill(event, args.entries)
    print(f"{args.entries} entries written in {time.monotonic() - started:.1f} s")

    paths = {
        "trivial JSON view (/healthz)": "/healthz",
        "live page (cached by revision)": f"/live/{fanout.SLUG}/",
        "API newest page (cached)": f"/api/events/{fanout.SLUG}/entries/",
    }
    for page in pages:
        cursor = quote(cursor_before_page(event, page))
        paths[f"API page {page} (Load more)"] = (
            f"/api/events/{fanout.SLUG}/entries/?before={cursor}"
        )
        paths[f"live page {page}, no JavaScript"] = f"/live/{fanout.SLUG}/?before={cursor}"

    with tempfile.TemporaryDirectory(prefix="liveblog-http-bench-") as tmp:
        daphne = fanout.Daphne(env, Path(tmp) / "daphne.log")
        try:
            daphne.wait_until_serving()
            base = f"http://{fanout.HOST}:{daphne.port}"
            print(f"wrk: 1 thread, {args.connections} connections, {args.seconds} s per URL")
            columns = ["req/s", "vs trivial", "p50 ms", "p99 ms", "non-2xx"]
            print(f"{'URL':38} " + " ".join(f"{column:>10}" for column in columns))
            trivial, failed = None, False
            for label, path in paths.items():
                row = wrk(base + path, args.seconds, args.connections)
                trivial = trivial or row["rps"]
                failed |= bool(row["errors"])
                print(
                    f"{label:38} {row['rps']:10.0f} {row['rps'] / trivial:9.2f}x "
                    f"{row['p50']:10.1f} {row['p99']:10.1f} {row['errors']:10d}"
                )
            if failed:
                print(f"Some answers were errors; the end of Daphne's log:\n{daphne.log()}")
        finally:
            daphne.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
