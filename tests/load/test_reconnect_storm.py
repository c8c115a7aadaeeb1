"""A restart under 1,000 readers: every reader comes back with the page's backoff and
catches up exactly on what was published while the server was down."""

import pytest

from bench import storm
from tests.load.conftest import server_errors
from updates.services import entry_publish

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

READERS = 1000
PUBLISHED_WHILE_DOWN = 5
# From the stop: Daphne's start (a few seconds), the readers' backoff (whoever failed
# three times while it was down waits 4 to 8 s more), and 1,000 handshakes and
# catch-ups. Measured here: the last reader about 10 to 20 s after the stop.
CAUGHT_UP_SECONDS = 45.0


def test_after_a_restart_every_reader_reconnects_and_catches_up_exactly(
    restartable_reader_server, event, journalist, publisher, readers_of, timings
):
    readers = readers_of(restartable_reader_server.url, event, READERS)
    first_server = restartable_reader_server.server

    def publish_while_down() -> int:
        for i in range(PUBLISHED_WHILE_DOWN):
            entry_publish(
                event=event, author=journalist, headline=f"While down {i}", body="<p>Missed.</p>"
            )
        event.refresh_from_db()
        return event.revision

    stopped_at, serving_at, results, _, _ = storm.run_storm(
        readers,
        restartable_reader_server.stop,
        publish_while_down,
        restartable_reader_server.start,
        lambda: restartable_reader_server.server.process.pid,
    )

    assert len(results) == READERS
    for reader in results:
        assert reader["caught_up_at"] is not None, reader["errors"]
        # What was published while it was down, each once, in order.
        assert reader["exact"], reader["applied"]
        assert reader["errors"] == []
        assert all(status == 200 for _, status in reader["requests"])
    assert server_errors(first_server, restartable_reader_server.server) == []

    caught_up = [reader["caught_up_at"] - stopped_at for reader in results]
    timings(f"down (stop to serving again), {READERS} readers", serving_at - stopped_at)
    timings("caught up after the stop, p50", storm.percentile(caught_up, 0.5))
    timings("caught up after the stop, p99", storm.percentile(caught_up, 0.99))
    timings("caught up after the stop, last reader", max(caught_up))
    assert max(caught_up) < CAUGHT_UP_SECONDS
