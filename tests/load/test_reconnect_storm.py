"""A restart under 1,000 readers: every reader comes back with the page's backoff and
catches up exactly on what was published while the server was down, from its hello."""

import pytest

from bench import storm
from tests.load.conftest import server_errors
from updates.services import entry_publish

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

READERS = 1000
PUBLISHED_WHILE_DOWN = 5
# From the stop: Daphne's stop and start (2 to 10 s here), the readers' backoff (one that
# failed three times while it was down waits 4 to 8 s more) and 1,000 handshakes, each
# hello bringing what was missed. Measured 20 to 40 s on a shared 2-core machine before
# the hello brought the changes (a request each); the bound
# is there to catch a collapse (handshakes timing out and retried: at 5,000 readers here,
# bench/storm.py saw none caught up within two minutes), not a slowdown.
CAUGHT_UP_SECONDS = 60.0


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

    restart = storm.run_storm(
        "liveblog",
        [readers],
        0.0,
        restartable_reader_server.stop,
        publish_while_down,
        restartable_reader_server.start,
        lambda: [restartable_reader_server.server.process.pid],
    )

    assert len(restart.readers) == READERS
    for reader in restart.readers:
        assert reader["caught_up_at"] is not None, reader["errors"]
        # What was published while it was down, each once, in order.
        assert reader["exact"], reader["applied"]
        assert reader["errors"] == []
        # The hello brought what it missed (?since= on the socket's URL): no request.
        assert reader["requests"] == []
    assert server_errors(first_server, restartable_reader_server.server) == []

    timings(f"down (stop to serving again), {READERS} readers", restart.downtime)
    timings("caught up after the stop, p50", restart.caught_up(0.5))
    timings("caught up after the stop, p99", restart.caught_up(0.99))
    timings("caught up after the stop, last reader", restart.caught_up(1.0))
    print(f"handshakes that failed once it served again: {restart.handshake_failures()}")
    assert restart.caught_up(1.0) < CAUGHT_UP_SECONDS
