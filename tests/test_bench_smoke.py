"""The benchmarks run, and every message reaches every reader (small runs); `make bench`
rewrites the current figures in docs/performance.md and nothing else of it."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from deploy import local_nginx
from tests.servers import database_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PERFORMANCE = ROOT / "docs" / "performance.md"
BEGIN = b"<!-- current figures:"
END = b"<!-- end of current figures -->"


def bench(script: str, *arguments: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def smoke_run(script: str, redis_url: str, *arguments: str, timeout: float) -> str:
    result = bench(script, "--smoke", "--redis-url", redis_url, *arguments, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def around_the_figures(text: bytes) -> tuple[bytes, bytes, bytes]:
    """Up to the end of the line that opens the figures, the figures, from their end on."""
    start = text.index(b"\n", text.index(BEGIN)) + 1
    end = text.index(END)
    return text[:start], text[start:end], text[end:]


def test_the_fan_out_benchmark_delivers_every_frame_and_writes_only_its_figures_in_a_smoke_run(
    redis_url, tmp_path
):
    docs = tmp_path / "performance.md"
    shutil.copyfile(PERFORMANCE, docs)

    printed = smoke_run("fanout.py", redis_url, "--write-docs", str(docs), timeout=120)

    assert "200  liveblog" in printed
    head, figures, tail = around_the_figures(docs.read_bytes())
    original_head, original_figures, original_tail = around_the_figures(PERFORMANCE.read_bytes())
    assert (head, tail) == (original_head, original_tail)
    assert figures != original_figures
    assert b"`bench/fanout.py --smoke --redis-url " in figures
    assert b"| 200 | 1,000 / 1,000 | " in figures


def test_the_fan_out_benchmark_refuses_a_file_without_the_markers_before_measuring(tmp_path):
    docs = tmp_path / "performance.md"
    docs.write_bytes(PERFORMANCE.read_bytes().replace(END, b"<!-- end -->"))
    before = docs.read_bytes()

    result = bench("fanout.py", "--write-docs", str(docs), timeout=30)

    assert result.returncode == 2
    assert "expected one line '<!-- end of current figures -->', found 0" in result.stderr
    assert docs.read_bytes() == before


def test_the_reconnect_storm_benchmark_brings_every_reader_back_exact_in_a_smoke_run(redis_url):
    printed = smoke_run("storm.py", redis_url, timeout=180)
    assert "200  liveblog" in printed
    assert "200  bare" in printed


@pytest.mark.load
def test_the_cluster_benchmark_delivers_every_frame_and_brings_every_reader_back_exact(
    redis_url,
):
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("bench/cluster.py runs on PostgreSQL: set DATABASE_URL (CI does)")
    if local_nginx.nginx_binary() is None:
        pytest.skip("bench/cluster.py needs nginx: apt-get install nginx-light")
    # A database of its own, beside the test database: the benchmark drops and makes it.
    bench_database = database_url(database | {"NAME": "liveblog_bench_cluster_smoke"})
    printed = smoke_run("cluster.py", redis_url, "--database-url", bench_database, timeout=300)
    assert re.search(r"^ +400  liveblog +2000/2000 ", printed, re.M), printed
    assert re.search(r"^ +400  bare +2000/2000 ", printed, re.M), printed
    assert "400  liveblog" in printed.split("Reconnect storm")[1], printed


def test_the_frames_benchmark_weighs_three_typical_entries():
    result = bench("frames.py", "--runs", "20", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for entry in ("words", "words and a photo", "words and a video"):
        assert re.search(
            rf"^{entry} +\d+ +\d+ +\d+ +\d+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+x$", result.stdout, re.M
        ), result.stdout
