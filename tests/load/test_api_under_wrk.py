"""The JSON endpoints under wrk against a real Daphne process: never an error, and the
same few queries per request however deep the page or long the catch-up."""

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from updates.services import entry_publish

pytestmark = [pytest.mark.load, pytest.mark.django_db(transaction=True)]

ENTRIES = 150  # 7 full pages of 20, and 150 changes (well under the 500 of a reset)
WRK_CONNECTIONS = 2
WRK_SECONDS = 5


@pytest.fixture
def busy_event(event, journalist):
    for i in range(ENTRIES):
        entry_publish(event=event, author=journalist, headline=f"Update {i}", body="<p>News.</p>")
    event.refresh_from_db()
    return event


def api(event, path: str = "") -> str:
    return f"/api/events/{event.slug}/{path}"


def cursor_before_page(get_json: Callable[[str], dict], event, page: int) -> str:
    """The URL "Load more" asks after `page - 1` pages, following the API's own cursors
    (signed by the server that hands them out)."""
    url = api(event, "entries/")
    for _ in range(page - 1):
        url = api(event, f"entries/?before={quote(get_json(url)['next'])}")
    return url


def from_server(server) -> Callable[[str], dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get_json(url: str) -> dict:
        with opener.open(server.url + url, timeout=10) as response:
            return json.load(response)

    return get_json


def wrk(url: str) -> str:
    result = subprocess.run(
        ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--timeout", "5s", url],
        capture_output=True,
        text=True,
        timeout=WRK_SECONDS + 30,
        check=True,
    )
    return result.stdout


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_json_endpoints_answer_wrk_without_an_error(reader_server, busy_event):
    if shutil.which("wrk") is None:
        pytest.fail("needs wrk: apt-get install wrk")
    urls = {
        "the event": api(busy_event),
        "the newest page": api(busy_event, "entries/"),
        "a cursor page": cursor_before_page(from_server(reader_server), busy_event, 4),
        "changes since": api(busy_event, f"changes/?since={busy_event.revision - 40}"),
    }
    for what, url in urls.items():
        out = wrk(reader_server.url + url)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        print(f"{what}: {re.search(r'Requests/sec:\s+([\d.]+)', out).group(1)} requests/s")
        assert requests > 0, out
        assert "Non-2xx" not in out, f"{what}: {out}"
        assert "Socket errors" not in out, f"{what}: {out}"


# Counted in this process with CaptureQueriesContext: the queries the view itself runs,
# exactly, on SQLite and PostgreSQL alike, whatever else the database is doing (a
# database-wide counter such as pg_stat_database.xact_commit also counts Daphne's and
# the pool's own statements). The server under wrk runs the same views.


def test_a_cursor_page_takes_the_same_queries_however_deep(busy_event, client):
    # The event, then the page of entries (one more to know there is a next page).
    depths = {
        page: queries_for(
            client, cursor_before_page(lambda url: client.get(url).json(), busy_event, page)
        )
        for page in (2, 4, 7)
    }
    print(f"queries per cursor page, by page: {depths}")
    assert len(set(depths.values())) == 1, depths


def test_changes_take_the_same_queries_however_many_were_missed(busy_event, client):
    counts = {
        missed: queries_for(
            client, api(busy_event, f"changes/?since={busy_event.revision - missed}")
        )
        for missed in (1, 40, ENTRIES)
    }
    print(f"queries per changes/ answer, by changes missed: {counts}")
    assert len(set(counts.values())) == 1, counts
