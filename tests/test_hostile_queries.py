"""Whatever a client puts in a query string, the answer is a page or a clear 4xx, never a 500."""

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from updates.live.consumers import socket_query

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


HOSTILE = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("url", URLS)
@HOSTILE
@given(query=QUERIES)
def test_any_query_string_gets_a_page_or_a_4xx_with_a_reason(client, two_entries, url, query):
    response = client.get(f"{url}?{urlencode(query)}")
    assert response.status_code in (200, 400, 404), (query, response.status_code)
    if url.startswith("/api/") and response.status_code != 200:
        assert response.json()["error"]


def is_plain_number(value: str) -> bool:
    """Digits 0 to 9 with no sign, space or leading zero: one spelling for each number."""
    return value.isascii() and value.isdigit() and value == str(int(value))


NUMBER_PARAMETERS = [
    ("/api/events/harbourside/entries/?", "limit", range(1, 101)),
    ("/api/events/harbourside/entries/?", "min_revision", range(0, 2**62 + 1)),
    ("/api/events/harbourside/changes/?", "since", range(0, 2**62 + 1)),
    ("/live/harbourside/?", "limit", range(1, 101)),
]


@pytest.mark.parametrize("url, name, bounds", NUMBER_PARAMETERS)
@HOSTILE
@given(value=NUMBERS)
def test_a_number_in_a_query_string_has_one_spelling(client, two_entries, url, name, bounds, value):
    # One page, one address: caches keep a page by its address.
    response = client.get(url + urlencode({name: value}))
    accepted = is_plain_number(value) and int(value) in bounds
    assert response.status_code == (200 if accepted else 400), value


@pytest.mark.parametrize("value", ["٣", "+3", "03", ""])
def test_the_live_page_refuses_a_number_not_in_plain_digits(client, two_entries, value):
    response = client.get(f"/live/harbourside/?{urlencode({'limit': value})}")
    assert response.status_code == 400
    assert response.content.decode() == (
        "Bad address: limit: must be a number in the digits 0 to 9, "
        "with no sign, space or leading zero"
    )


@pytest.mark.parametrize("value", ["٣", "+3", "03", ""])
def test_the_sockets_since_refuses_a_number_not_in_plain_digits(value):
    with pytest.raises(ValueError, match="^since: must be a number in the digits 0 to 9"):
        socket_query({"query_string": urlencode({"since": value}).encode()})
