"""Lighthouse's command line, run to a deadline: for bench/lighthouse.py (performance) and
tests/test_lighthouse.py (SEO and best practices). Lighthouse is the one pinned in
bench/package.json (`npm ci --prefix bench`, which `make test` runs), started through
run-lighthouse.mjs, which exits as soon as it is done. This module imports nothing else
of bench/, so that the tests can import it."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Debian's Chromium, headless, as this machine runs it for every test and benchmark
# (tests/browser/conftest.py too): no sandbox, GPU, QUIC or calls home.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

BENCH = Path(__file__).resolve().parent
LIGHTHOUSE = BENCH / "node_modules" / "lighthouse" / "cli" / "bin.js"
RUN_LIGHTHOUSE = BENCH / "run-lighthouse.mjs"
STOP_SECONDS = 10.0
# "Something went wrong with recording the trace over your page load. Please run Lighthouse
# again." (core/lib/lh-error.js): NO_NAVSTART, once here in a few dozen runs while other
# tests kept the machine busy.
RUN_AGAIN = {"NO_TRACING_STARTED", "NO_RESOURCE_REQUEST", "NO_NAVSTART", "NO_DCL"}


def lighthouse_missing() -> str | None:
    """What this machine lacks to run Lighthouse, said as how to install it; else None."""
    if shutil.which("node") is None:
        return "needs Node 18.16 or later (apt-get install nodejs npm), then npm ci --prefix bench"
    if not LIGHTHOUSE.exists():
        return "needs Lighthouse: npm ci --prefix bench (make test runs it)"
    return None


def run_lighthouse(
    url: str,
    output: Path,
    *,
    categories: Sequence[str],
    form_factor: str,
    chrome: str,
    chrome_flags: Sequence[str],
    timeout: float,
) -> dict:
    """Lighthouse's JSON report on url (also written to output), for those categories
    and form factor ("mobile", its default, or "desktop"). Raises RuntimeError if it fails
    or a run has not finished within timeout seconds; it and its Chromium are killed then.
    A run whose trace Lighthouse could not read, it says to run again, and so it is, once."""
    command = [
        "node",
        str(RUN_LIGHTHOUSE),
        url,
        f"--only-categories={','.join(categories)}",
        "--output=json",
        f"--output-path={output}",
        f"--chrome-path={chrome}",
        f"--chrome-flags={' '.join(chrome_flags)}",
        "--disable-full-page-screenshot",
        "--max-wait-for-load=30000",
        "--quiet",
    ]
    if form_factor == "desktop":
        command.append("--preset=desktop")
    for attempt in (1, 2):
        output.unlink(missing_ok=True)
        report, printed = run_once(command, url, output, timeout)
        error = (report or {}).get("runtimeError")
        if error and error.get("code") in RUN_AGAIN and attempt == 1:
            continue
        if error:
            raise RuntimeError(f"Lighthouse on {url}: {error}")
        if report is None:
            raise RuntimeError(f"Lighthouse on {url} wrote no report:\n{printed}")
        return report
    raise AssertionError("unreachable")


def run_once(command: list[str], url: str, output: Path, timeout: float) -> tuple[dict | None, str]:
    """The report Lighthouse wrote, if it wrote one (with its runtimeError, if any), and
    what it printed."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_lighthouse(process)
        raise RuntimeError(f"Lighthouse did not finish on {url} in {timeout:.0f} s") from None
    printed = f"exit status {process.returncode}:\n{out.decode(errors='replace')}"
    # It exits 1 after writing a report with a runtimeError too.
    return (json.loads(output.read_text()) if output.exists() else None), printed


def stop_lighthouse(process: subprocess.Popen) -> None:
    """Lighthouse and the Chromium it launched, which chrome-launcher starts in a process
    group of its own, and the profile it made for it, which it would have removed."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    profiles = []
    for child in map(int, children.read_text().split()) if children.exists() else []:
        with contextlib.suppress(OSError):
            arguments = Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0")
            profiles += [
                each.removeprefix("--user-data-dir=")
                for each in arguments
                if each.startswith("--user-data-dir=")
            ]
            os.killpg(child, signal.SIGKILL)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_SECONDS)
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)
