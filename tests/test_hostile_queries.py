"""Whatever a client puts in a query string, the answer is a page or a clear 4xx, never a 500."""

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(
        ["0", "1", "100", "101", "-0", "1e3", "0x10", "٣", "１２", " 5", "5 ", "", "∞"]
    ),
    st.text(max_size=30),
)
CURSORS = st.one_of(
    st.text(max_size=200),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:", max_size=300
    ),
    st.just("x" * 5000),
)
QUERIES = st.dictionaries(
    st.sampled_from(["limit", "before", "after", "order", "since", "junk"]),
    st.one_of(NUMBERS, CURSORS, st.sampled_from(["newest", "oldest", "sideways"])),
    max_size=4,
)
URLS = [
    "/api/events/harbourside/entries/",
    "/api/events/harbourside/changes/",
    "/api/events/harbourside/",
    "/live/harbourside/",
]


@pytest.fixture
def two_entries(make_entry) -> None:
    # Function-scoped, so made once for all of a test's examples (hence the health check).
    make_entry()
    make_entry()


@pytest.mark.parametrize("url", URLS)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=QUERIES)
def test_any_query_string_gets_a_page_or_a_4xx_with_a_reason(client, two_entries, url, query):
    response = client.get(f"{url}?{urlencode(query)}")
    assert response.status_code in (200, 400, 404), (query, response.status_code)
    if url.startswith("/api/") and response.status_code != 200:
        assert response.json()["error"]
