"""The benchmarks run, and every message reaches every reader (small runs)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def smoke_run(script: str, redis_url: str, *, timeout: float) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_fan_out_benchmark_delivers_every_frame_in_a_smoke_run(redis_url):
    assert "200  liveblog" in smoke_run("fanout.py", redis_url, timeout=120)


def test_the_reconnect_storm_benchmark_brings_every_reader_back_exact_in_a_smoke_run(redis_url):
    printed = smoke_run("storm.py", redis_url, timeout=180)
    assert "200  liveblog" in printed
    assert "200  bare" in printed
