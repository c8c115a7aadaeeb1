"""Readiness (/readyz): whether this process's dependencies answer, each one checked.

/healthz says only that the process answers. This asks the database for one trivial query
and Redis (REDIS_URL's, or the primary Sentinel names: the channel layer, the cache and
the rate limits) for a PING, both at once, each in a thread of its own given
TIMEOUT_SECONDS: a hung dependency shows as one that did not answer in time, and cannot
hang the probe. Without REDIS_URL (the embedded
default) there is no Redis to be down: its check says it is not configured, and passes.

A failure's reason is the exception's class, never its message, which may name hosts,
users or databases: the log has the whole of it.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

from liveblog.backends import redis_client

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0
DATABASE_QUERY = "SELECT 1"

Check = dict[str, Any]


def report() -> tuple[bool, dict[str, Any]]:
    """Whether every dependency answered, and the body /readyz answers with:
    {"status": "ready" | "unavailable", "checks": {"database": CHECK, "redis": CHECK}},
    a CHECK being {"ok": true, "ms": 1.2}, {"ok": false, "ms": ..., "error": reason} or,
    for Redis on the embedded default, {"ok": true, "configured": false}."""
    probes: dict[str, Callable[[], None]] = {"database": _database_answers}
    if settings.REDIS_URL:
        probes["redis"] = _redis_answers
    checks: dict[str, Check] = {"redis": {"ok": True, "configured": False}}
    checks |= _run_at_once(probes)
    ready = all(check["ok"] for check in checks.values())
    return ready, {"status": "ready" if ready else "unavailable", "checks": checks}


def _database_answers() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(DATABASE_QUERY)
            cursor.fetchone()
    finally:
        # This thread's own connection: back to the pool (or closed) now, not left behind.
        connection.close()


def _redis_answers() -> None:
    # With Sentinel, the primary it names now: a failover is over once that answers.
    client = redis_client(
        settings.REDIS_URL,
        settings.REDIS_SENTINEL,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
    with client:
        client.ping()


def _run_at_once(probes: dict[str, Callable[[], None]]) -> dict[str, Check]:
    results: dict[str, Check] = {}
    threads = [
        # Daemon threads: one stuck on a hung dependency must not hold up a worker's exit.
        threading.Thread(target=_timed, args=(name, probe, results), daemon=True)
        for name, probe in probes.items()
    ]
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    unanswered = {
        "ok": False,
        "ms": TIMEOUT_SECONDS * 1000,
        "error": f"no answer within {TIMEOUT_SECONDS:g} s",
    }
    checks = {name: results.get(name, unanswered) for name in probes}
    for name in probes.keys() - results.keys():
        logger.warning("Readiness: the %s check had no answer within %g s", name, TIMEOUT_SECONDS)
    return checks


def _timed(name: str, probe: Callable[[], None], results: dict[str, Check]) -> None:
    started = time.perf_counter()
    try:
        probe()
    except Exception as failure:
        logger.warning("Readiness: the %s check failed", name, exc_info=True)
        results[name] = {"ok": False, "ms": _ms_since(started), "error": type(failure).__name__}
    else:
        results[name] = {"ok": True, "ms": _ms_since(started)}


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
