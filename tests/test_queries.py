from datetime import timedelta

import pytest
from django.utils import timezone


@pytest.fixture
def entries(make_entry):
    def make(count: int) -> None:
        start = timezone.now() - timedelta(hours=5)
        for n in range(count):
            make_entry(published_at=start + timedelta(minutes=n), pinned=n == 0)

    return make


@pytest.mark.parametrize("count", [3, 60])
def test_the_live_page_takes_four_queries_whatever_the_number_of_entries(
    client, entries, count, django_assert_num_queries
):
    entries(count)
    # The event; the newest page of entries; the pinned entries; the key events.
    with django_assert_num_queries(4):
        assert client.get("/live/harbourside/").status_code == 200


@pytest.mark.parametrize("count", [3, 60])
def test_an_api_page_takes_two_queries_whatever_the_number_of_entries(
    client, entries, count, django_assert_num_queries
):
    entries(count)
    cursor = client.get("/api/events/harbourside/entries/?limit=2").json()["next"]
    # The event; one page of entries with their event joined.
    with django_assert_num_queries(2):
        assert client.get(f"/api/events/harbourside/entries/?before={cursor}").status_code == 200


@pytest.mark.parametrize("count", [3, 60])
def test_changes_take_two_queries_whatever_their_number(
    client, entries, count, django_assert_num_queries
):
    entries(count)
    # The event; the changed entries with their event joined.
    with django_assert_num_queries(2):
        assert client.get("/api/events/harbourside/changes/?since=0").status_code == 200
