"""The reconnect-storm benchmark runs, and every reader ends exact (a small run)."""

import subprocess
import sys
from pathlib import Path


def test_the_reconnect_storm_benchmark_brings_every_reader_back_exact_in_a_smoke_run(redis_url):
    bench = Path(__file__).resolve().parent.parent / "bench" / "storm.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--smoke", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "200  liveblog" in result.stdout
    assert "200  bare" in result.stdout
