"""/metrics: who may read it, and what it answers (the metrics are updates/metrics.py's)."""

import hmac
import os
import re
from ipaddress import ip_network
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from updates.ratelimit import request_client_ip


def may_read(request: HttpRequest) -> bool:
    """From an address of METRICS_ALLOWED_ADDRESSES (the client's own, behind the proxies
    TRUSTED_PROXIES names), or with METRICS_TOKEN as a bearer token."""
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    address = request_client_ip(request)
    return address is not None and any(
        address in ip_network(allowed, strict=False)
        for allowed in settings.METRICS_ALLOWED_ADDRESSES
    )


def exposition() -> tuple[bytes, str]:
    """Every metric, as Prometheus reads it, and its content type."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    forget_gone_processes(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


# The files of a process's live gauges: gauge_liveall_<pid>.db, gauge_livesum_<pid>.db, ...
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def forget_gone_processes(directory: Path) -> None:
    """Drop the live gauges of processes that have gone, however they went (a Daphne
    process killed, a gunicorn worker recycled): their readers are no longer connected.
    prometheus-client leaves this to the server (mark_process_dead)."""
    for path in directory.glob("gauge_live*.db"):
        match = LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not _running(int(match[1])):
            multiprocess.mark_process_dead(int(match[1]), path=str(directory))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
