"""SENTRY_DSN sends errors to Sentry, here a server of the test's own that takes what
sentry-sdk sends as Sentry would (its envelope endpoint); without it nothing is sent."""

import gzip
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.servers import django_process, serving

# What liveblog logs when a publish fails (updates/live/delivery.py), from a process that
# then ends, as a management command or a worker being replaced does: sentry-sdk sends
# what it holds before the process exits.
FAILED_PUBLISH = (
    "import logging\n"
    "try:\n"
    "    raise ConnectionError('Redis went away')\n"
    "except ConnectionError:\n"
    "    logging.getLogger('updates.live.delivery').exception(\n"
    "        'Could not deliver revision 7 of event 3')\n"
)


class Sentry(ThreadingHTTPServer):
    """Takes envelopes at /api/<project>/envelope/ and keeps each item, decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EnvelopeHandler)
        self.items: list[dict] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"


class EnvelopeHandler(BaseHTTPRequestHandler):
    server: Sentry

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/api/42/envelope/":
            # A header line, then each item's header line and its payload line.
            lines = body.decode().splitlines()[1:]
            self.server.items += [json.loads(line) for line in lines[1::2]]
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[Sentry]:
    with serving(Sentry()) as server:
        yield server


def test_with_sentry_dsn_an_error_logged_is_reported_with_its_exception(sentry):
    ran = django_process(FAILED_PUBLISH, SENTRY_DSN=sentry.dsn, SENTRY_ENVIRONMENT="staging")

    assert ran.returncode == 0, ran.stderr
    [event] = [item for item in sentry.items if item.get("level") == "error"]
    assert event["logentry"]["message"] == "Could not deliver revision 7 of event 3"
    assert event["logger"] == "updates.live.delivery"
    assert event["environment"] == "staging"
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ConnectionError", "Redis went away")
    # Nobody's address, cookies or account goes with it.
    assert "user" not in event


def test_without_sentry_dsn_nothing_is_sent(sentry):
    ran = django_process(
        FAILED_PUBLISH + "import sentry_sdk\nassert not sentry_sdk.get_client().is_active()\n"
    )

    assert ran.returncode == 0, ran.stderr
    assert "Could not deliver revision 7" in ran.stderr  # logged all the same
    assert sentry.items == []
