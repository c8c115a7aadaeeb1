"""The table of current fan-out figures at the top of docs/performance.md.

`make bench` runs `bench/fanout.py --write-docs docs/performance.md`, which replaces what
lies between BEGIN and END with its run's table and leaves every other byte of the file
as it was: the history below the table is written by hand.
"""

import datetime
import os
import platform
import subprocess
import textwrap
from importlib import metadata
from pathlib import Path

BEGIN = "<!-- current figures: written by `make bench` (bench/figures.py); edits here are lost -->"
END = "<!-- end of current figures -->"

# What the fan-out runs on, in the order a reader looks for them.
PACKAGES = [
    "Django",
    "channels",
    "daphne",
    "autobahn",
    "Twisted",
    "channels-redis",
    "redis",
    "websockets",
]

COLUMNS = [
    "readers",
    "delivered",
    "liveblog p50 / p99",
    "bare p50 / p99",
    "p99 ratio",
    "CPU per frame (liveblog / bare)",
    "RSS per idle reader (liveblog / bare)",
    "elsewhere (liveblog / bare)",
]


def marker_lines(text: str) -> tuple[list[str], int, int]:
    """The text's lines, ends kept, and the indexes of the two marker lines; ValueError
    unless BEGIN and then END each stand once on a line of their own."""
    lines = text.splitlines(keepends=True)
    found = {}
    for marker in (BEGIN, END):
        where = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == marker]
        if len(where) != 1:
            raise ValueError(f"expected one line {marker!r}, found {len(where)}")
        found[marker] = where[0]
    if found[BEGIN] > found[END]:
        raise ValueError(f"{END!r} comes before {BEGIN!r}")
    return lines, found[BEGIN], found[END]


def replace_block(text: str, block: str) -> str:
    """text with the lines between the markers replaced by block; every other byte kept."""
    lines, begin, end = marker_lines(text)
    # Blank lines around it: a table ends at a blank line, not at the comment.
    return f"{''.join(lines[: begin + 1])}\n{block.strip()}\n\n{''.join(lines[end:])}"


def write(path: Path, block: str) -> None:
    """Replaces the block in the file at path, atomically: a failed write leaves it whole."""
    text = path.read_text()
    updated = replace_block(text, block)
    part = path.with_name(path.name + ".part")
    part.write_text(updated)
    os.replace(part, path)


def table(rows: list, *, command: str, schedule: str, machine: str) -> str:
    """The block: how the figures were measured, then one row per N.

    rows: (liveblog, bare) Measurement pairs, as bench/fanout.py makes them."""
    about = (
        f"Measured by `{command}` ({schedule} for each number of readers) {machine}."
        " `elsewhere` is how many CPUs other processes kept busy during the row: more than a"
        " few tenths, and the latencies say more about the machine than about liveblog; the"
        " ratios hold better than the times."
    )
    lines = [
        textwrap.fill(about, width=95, break_long_words=False, break_on_hyphens=False),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    for live, bare in rows:
        delivered = f"{live.delivered:,} / {live.expected:,}"
        if bare.delivered != bare.expected:
            delivered += f" (bare {bare.delivered:,} / {bare.expected:,})"
        cells = [
            f"{live.readers:,}",
            delivered,
            f"{milliseconds(live.percentile(0.5))} / {milliseconds(live.percentile(0.99))} ms",
            f"{milliseconds(bare.percentile(0.5))} / {milliseconds(bare.percentile(0.99))} ms",
            f"{live.percentile(0.99) / bare.percentile(0.99):.1f}×",
            f"{live.cpu_us_per_frame:.0f} / {bare.cpu_us_per_frame:.0f} µs",
            f"{live.rss_kib_per_reader:.1f} / {bare.rss_kib_per_reader:.1f} KiB",
            f"{live.elsewhere_cpus:.2f} / {bare.elsewhere_cpus:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def milliseconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def machine(redis_url: str, written: Path) -> str:
    """When, at which commit and on what: "on 2026-11-26 19:40 UTC at commit ...; ..."."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    versions = [f"Python {platform.python_version()}"]
    versions += [f"{package} {metadata.version(package)}" for package in PACKAGES]
    versions.append(f"Redis {redis_version(redis_url)}")
    return f"on {now} at {commit(written)}; {cpus()}, {memory()}; {', '.join(versions)}"


def commit(written: Path) -> str:
    """HEAD, and whether the tree differs from it (but for the file being written)."""
    root = Path(__file__).resolve().parent.parent
    written = written.resolve()
    others = [f":(exclude){written.relative_to(root)}"] if written.is_relative_to(root) else []
    try:
        head = git(root, "rev-parse", "--short", "HEAD")
        changed = git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *others)
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"
    return f"commit {head}" + (" with uncommitted changes" if changed else "")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def cpus() -> str:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = f" ({line.partition(':')[2].strip()})"
            break
    return f"{os.cpu_count()} CPUs{model} shared by the servers and the client"


def memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    return "memory unknown"


def redis_version(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        return client.info("server")["redis_version"]
    finally:
        client.close()
