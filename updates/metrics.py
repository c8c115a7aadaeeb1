"""What an operator watches on election night: the metrics /metrics answers, in
Prometheus's text format (docs/metrics.md lists them; deploy/grafana-dashboard.json draws
them; updates/scrape.py answers them).

Each process counts what it does itself. With PROMETHEUS_MULTIPROC_DIR set, as deploy/
sets it for every liveblog process of a host (gunicorn's workers and the Daphne
processes), prometheus-client keeps the values in files there, and /metrics, whichever
process answers it, reads them all. Without it (make run: one process), they live in the
process's memory.

Nothing here is counted per reader per frame: a fan-out to thousands of readers costs a
few updates, not thousands (the fan-out benchmark, make bench, holds it to that).
"""

import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Gauge, Histogram

# The promise readers are made: an update appears within a second of the journalist's save.
LATE_AFTER_SECONDS = 1.0

# From a millisecond (one process, a few readers) to beyond the promise (a crowd, a slow
# Redis): the buckets a histogram's quantiles are read from.
DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

READERS = Gauge(
    "liveblog_readers",
    "Readers' sockets connected, per event (and per process: pid)",
    ["event"],
    # Each process's own count, labelled with its pid; a process that has gone is left out.
    multiprocess_mode="liveall",
)
SOCKET_CONNECTS = Counter("liveblog_socket_connects", "Readers' socket handshakes accepted")
SOCKET_CLOSES = Counter(
    "liveblog_socket_closes",
    "Readers' sockets closed, by close code and by whom (server: liveblog refused or ended it)",
    ["code", "by"],
)
PUBLISHES = Counter(
    "liveblog_publishes",
    "Changes published to readers, by kind, and whether the channel layer took them",
    ["change", "result"],
)
COMMIT_TO_SEND = Histogram(
    "liveblog_commit_to_send_seconds",
    "From a change's commit to a process starting to send it to its readers",
    buckets=DELAY_BUCKETS,
)
FAN_OUT = Histogram(
    "liveblog_fan_out_seconds",
    "A process handing one frame to each of its readers of an event",
    buckets=DELAY_BUCKETS,
)
LATE_DELIVERIES = Counter(
    "liveblog_late_deliveries",
    f"Frames handed to a reader more than {LATE_AFTER_SECONDS:g} s after their change's commit",
)
FAILED_DELIVERIES = Counter(
    "liveblog_failed_deliveries", "Frames a reader's socket could not take (it was closing)"
)
CATCH_UPS = Counter(
    "liveblog_catch_ups",
    "Readers catching up from a revision: in a socket's hello, or asking changes/",
    ["via"],
)
RESETS = Counter(
    "liveblog_resets",
    "Catch-ups answered with a reset: the reader reloads its entries",
    ["via"],
)
RATE_LIMIT_REFUSALS = Counter("liveblog_rate_limit_refusals", "Uses refused, by limit", ["limit"])
HTTP_REQUESTS = Counter(
    "liveblog_http_requests", "HTTP requests answered, by view and status", ["view", "status"]
)
HTTP_SECONDS = Histogram(
    "liveblog_http_request_seconds",
    "Time to answer an HTTP request, by view",
    ["view"],
    buckets=DELAY_BUCKETS,
)
JOB_LAST_SUCCESS = Gauge(
    "liveblog_job_last_success_timestamp_seconds",
    "When a periodic job last ran without failing (Unix time), on any process",
    ["job"],
    multiprocess_mode="max",
)
JOB_FAILURES = Counter("liveblog_job_failures", "Periodic jobs' runs that failed", ["job"])


def caught_up(*, via: str, reset: bool) -> None:
    """Counts a reader's catch-up, via "socket" or "http"; reset: answered with a reset."""
    CATCH_UPS.labels(via=via).inc()
    if reset:
        RESETS.labels(via=via).inc()


def late_readers(count: int, committed_at: float | None) -> None:
    """Counts `count` readers handed a change now if that is later than promised."""
    if count and committed_at is not None and time.time() - committed_at > LATE_AFTER_SECONDS:
        LATE_DELIVERIES.inc(count)


class RequestMetricsMiddleware:
    """Counts every answer by view and status, and times it. Whatever is not a view
    (a static file, an address no view has) counts as "none"."""

    sync_capable = async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._answer_async(request)
        started = time.perf_counter()
        response = self.get_response(request)
        _count_request(request, response, started)  # type: ignore[arg-type]
        return response

    async def _answer_async(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)  # type: ignore[misc]
        _count_request(request, response, started)
        return response


def _count_request(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = request.resolver_match
    view = match.view_name if match is not None else "none"
    HTTP_REQUESTS.labels(view=view, status=str(response.status_code)).inc()
    HTTP_SECONDS.labels(view=view).observe(time.perf_counter() - started)
