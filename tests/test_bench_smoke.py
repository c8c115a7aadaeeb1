"""The fan-out benchmark runs, and every frame reaches every reader (a small run)."""

import subprocess
import sys
from pathlib import Path


def test_the_fan_out_benchmark_delivers_every_frame_in_a_smoke_run(redis_url):
    bench = Path(__file__).resolve().parent.parent / "bench" / "fanout.py"
    result = subprocess.run(
        [sys.executable, str(bench), "--smoke", "--redis-url", redis_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "200  liveblog" in result.stdout
