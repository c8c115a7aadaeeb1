"""Readers coming and going, for tests/load/test_churn.py: runs in a child process."""

import asyncio
import contextlib
import random
import time

from bench import storm

# How long a reader stays before it leaves: a glance at the page.
HOLD_SECONDS = 0.5


def churn_main(conn, url: str, concurrency: int, seconds: float) -> None:
    """`concurrency` readers at a time, each connecting (up to hello), staying a moment and
    leaving, half with a closing handshake and half by dropping the connection (a tab
    closed, a phone gone), until `seconds` have passed; then sends ("done", opened, failed)."""
    storm.fanout.raise_fd_limit()
    try:
        opened, failed = asyncio.run(_churn(url, concurrency, seconds))
        conn.send(("done", opened, failed))
    except BaseException as error:
        conn.send(("error", f"{type(error).__name__}: {error}"))
        raise


async def _churn(url: str, concurrency: int, seconds: float) -> tuple[int, int]:
    opened = failed = 0
    deadline = time.monotonic() + seconds

    async def come_and_go(index: int) -> None:
        nonlocal opened, failed
        while time.monotonic() < deadline:
            try:
                ws, _ = await storm.open_socket(url)
            except Exception:
                failed += 1
                await asyncio.sleep(HOLD_SECONDS)
                continue
            opened += 1
            await asyncio.sleep(random.random() * HOLD_SECONDS)
            if index % 2:
                with contextlib.suppress(Exception):
                    await ws.close()
            else:
                ws.transport.abort()

    await asyncio.gather(*(come_and_go(i) for i in range(concurrency)))
    return opened, failed
