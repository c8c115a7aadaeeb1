"""A minute of publishing at 5 entries a second to 300 readers of one Daphne process."""

import time

import pytest

from bench import storm
from tests.load.conftest import server_errors
from updates.services import entry_publish

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

READERS = 300
PER_SECOND = 5
SECONDS = 60


def test_every_reader_gets_every_entry_of_a_minute_of_publishing_once_and_in_order(
    reader_server, event, journalist, publisher, readers_of, timings
):
    readers = readers_of(reader_server.url, event, READERS)
    started = time.monotonic()
    for i in range(PER_SECOND * SECONDS):
        time.sleep(max(0.0, started + i / PER_SECOND - time.monotonic()))
        # The receipt is timed from the moment the save starts, as a journalist sees it.
        entry_publish(
            event=event,
            author=journalist,
            headline=f"t={time.time()!r}",
            body=f"<p>Update {i} of a busy minute.</p>",
        )
    publishing_seconds = time.monotonic() - started
    event.refresh_from_db()
    readers.expect(event.revision)
    results = readers.results()

    first = event.revision - PER_SECOND * SECONDS
    every_revision = list(range(first + 1, event.revision + 1))
    assert len(results) == READERS
    for reader in results:
        assert reader["first_revision"] == first
        # The page shows every revision, once, in order...
        assert reader["exact"], reader["applied"]
        assert reader["errors"] == []
        frames = reader["frames"]
        assert frames == sorted(set(frames)), "a change came twice, or out of order"
        # ...and over a socket that stayed up, every change came over it. (A reader the
        # server dropped, say for not answering its pings in time, reconnects and asks
        # changes/ for what it missed, as the page does.)
        if not reader["handshakes"]:
            assert frames == every_revision, sorted(set(every_revision) - set(frames))
    reconnected = sum(bool(reader["handshakes"]) for reader in results)
    catch_ups = sum(len(reader["requests"]) for reader in results)
    print(f"readers that reconnected: {reconnected}; catch-up requests: {catch_ups}")
    assert server_errors(reader_server) == []
    assert publishing_seconds < SECONDS + 5, "this process could not keep up the pace"

    latencies = [seconds for reader in results for seconds in reader["latencies"]]
    assert len(latencies) == READERS * PER_SECOND * SECONDS
    timings(
        f"publish to receipt p50 ({READERS} readers, {PER_SECOND}/s)",
        storm.percentile(latencies, 0.5),
    )
    timings("publish to receipt p95", storm.percentile(latencies, 0.95))
    timings("publish to receipt max", max(latencies))
