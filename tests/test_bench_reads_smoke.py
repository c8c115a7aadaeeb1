"""The HTTP read benchmark runs end to end on each server (gunicorn, Daphne, nginx in front
of gunicorn; a small run): every URL answers 2xx with entries in it, and every row and
ratio is printed."""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from deploy import local_nginx
from tests.servers import database_url

BENCH = Path(__file__).resolve().parent.parent / "bench" / "reads.py"


@pytest.fixture
def smoke_database_url(tmp_path) -> Iterator[str]:
    """A database of its own, never the shared bench one: on the PostgreSQL server the
    tests use, if they use one, else a throwaway SQLite file."""
    test_database = settings.DATABASES["default"]
    if test_database["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp_path / 'reads-smoke.sqlite3'}"
        return
    name = f"liveblog_reads_smoke_{os.getpid()}"
    url = database_url(test_database | {"NAME": name})
    try:
        yield url
    finally:
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_read_benchmark_measures_gunicorn_daphne_and_nginx_in_a_smoke_run(
    smoke_database_url, redis_url
):
    if shutil.which("wrk") is None:
        pytest.skip("needs wrk to load the servers: apt-get install wrk")
    if local_nginx.nginx_binary() is None:
        pytest.skip("needs nginx to measure deploy/nginx.conf: apt-get install nginx-light")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--smoke"]
        + ["--database-url", smoke_database_url, "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output

    rows = re.findall(r"^  (\S.*?)\s{2,}(\d+)\s+[\d.]+x ", result.stdout, re.M)
    for server in ("gunicorn", "daphne", "nginx"):
        assert re.search(rf"^{server} \(", result.stdout, re.M), output
    for label in (
        "trivial JSON view (/healthz)",
        "live page (cached by revision)",
        "API newest page (cached)",
        "API page 2 (Load more)",
        "API page 7 (Load more)",
        "API page 7, no min_revision",
        "live page 7, no JavaScript",
        "live page, no cache",
        "API newest page, no cache",
    ):
        # Once per server, each with requests answered.
        measured = [int(rps) for row_label, rps in rows if row_label == label]
        assert len(measured) == 3, output
        assert min(measured) > 0, output
    assert re.search(r"gunicorn: API page 7 \(Load more\) / trivial view: [\d.]+x", output)
    assert re.search(r"daphne: live page \(cached by revision\) / live page, no cache: ", output)
    assert re.search(r"gunicorn / daphne, trivial JSON view \(/healthz\): [\d.]+x", output)
    assert re.search(r"nginx: API page 7 \(Load more\) / trivial view: [\d.]+x", output)
