from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.signals import template_rendered
from django.utils import timezone

from updates import selectors
from updates.models import Entry, Event
from updates.selectors import Cursor
from updates.services import entry_delete, entry_update


@pytest.fixture
def entries(make_entry):
    def make(count: int) -> list:
        start = timezone.now() - timedelta(hours=5)
        return [
            make_entry(published_at=start + timedelta(minutes=n), pinned=n == 0)
            for n in range(count)
        ]

    return make


def test_the_event_is_read_as_the_orm_reads_it(event, django_assert_num_queries):
    with django_assert_num_queries(1):
        read = selectors.event_get(slug="harbourside")
    expected = Event.objects.get(slug="harbourside")
    fields = [field.attname for field in Event._meta.concrete_fields]
    assert {name: getattr(read, name) for name in fields} == {
        name: getattr(expected, name) for name in fields
    }
    assert read.created_at.tzinfo is not None
    assert read._state.adding is False and read._state.db == "default"
    with pytest.raises(Http404):
        selectors.event_get(slug="nope")


def test_a_page_of_entries_is_read_as_the_orm_reads_it(entries, event):
    made = entries(4)
    entry_update(entry=made[2], changes={"key_event": True, "correction": "A name was wrong."})
    page = selectors.entry_page(event=event)
    fields = [field.attname for field in Entry._meta.concrete_fields]
    assert [entry.pk for entry in page.entries] == [entry.pk for entry in reversed(made)]
    for read in page.entries:
        expected = Entry.objects.get(pk=read.pk)
        assert {name: getattr(read, name) for name in fields} == {
            name: getattr(expected, name) for name in fields
        }
        assert type(read.pinned) is bool and read.published_at.tzinfo is not None
        assert read._state.adding is False


@pytest.mark.parametrize("count", [3, 60])
def test_the_live_page_takes_four_queries_then_one_until_the_next_change(
    client, entries, count, django_assert_num_queries
):
    made = entries(count)
    # The event; the newest page of entries; the pinned entries; the key events.
    with django_assert_num_queries(4):
        assert client.get("/live/harbourside/").status_code == 200
    # The event: the rest is cached for its revision.
    with django_assert_num_queries(1):
        assert client.get("/live/harbourside/").status_code == 200

    entry_update(entry=made[-1], changes={"headline": "Corrected headline"})
    with django_assert_num_queries(4):
        assert "Corrected headline" in client.get("/live/harbourside/").content.decode()


@pytest.mark.parametrize("count", [3, 60])
def test_the_newest_api_page_takes_two_queries_then_one_until_the_next_change(
    client, entries, count, django_assert_num_queries, make_entry
):
    entries(count)
    # The event; one page of entries (their event is the one already read).
    with django_assert_num_queries(2):
        assert client.get("/api/events/harbourside/entries/").status_code == 200
    with django_assert_num_queries(1):
        assert client.get("/api/events/harbourside/entries/").status_code == 200

    make_entry(headline="Brand new")
    data = client.get("/api/events/harbourside/entries/").json()
    assert data["entries"][0]["headline"] == "Brand new"


@pytest.mark.parametrize("count", [3, 60])
def test_a_cursor_page_takes_two_queries_whatever_the_number_of_entries(
    client, entries, count, django_assert_num_queries
):
    entries(count)
    cursor = client.get("/api/events/harbourside/entries/?limit=2").json()["next"]
    # The event; one page of entries (their event is the one already read).
    with django_assert_num_queries(2):
        assert client.get(f"/api/events/harbourside/entries/?before={cursor}").status_code == 200


@pytest.mark.parametrize("count", [3, 60])
def test_a_cursor_page_takes_two_queries_then_one_until_the_next_change(
    client, entries, count, django_assert_num_queries
):
    made = entries(count)
    cursor = client.get("/api/events/harbourside/entries/?limit=1").json()["next"]
    url = f"/api/events/harbourside/entries/?before={cursor}&limit=2"
    # The event; one page of entries.
    with django_assert_num_queries(2):
        first = client.get(url).json()
    # The event: the rest is cached for its revision, the cursor's check included.
    with django_assert_num_queries(1):
        assert client.get(url).json() == first

    edited = next(entry for entry in made if entry.pk == first["entries"][1]["id"])
    entry_update(entry=edited, changes={"headline": "Corrected on an older page"})
    with django_assert_num_queries(2):
        again = client.get(url).json()
    assert again["entries"][1]["headline"] == "Corrected on an older page"
    assert again["revision"] == first["revision"] + 1


def test_a_cursor_page_drops_an_entry_deleted_since_it_was_cached(client, entries):
    made = entries(10)
    cursor = client.get("/api/events/harbourside/entries/?limit=1").json()["next"]
    url = f"/api/events/harbourside/entries/?before={cursor}&limit=3"
    shown = [entry["id"] for entry in client.get(url).json()["entries"]]

    entry_delete(entry=next(entry for entry in made if entry.pk == shown[0]))
    assert [entry["id"] for entry in client.get(url).json()["entries"]][:2] == shown[1:]


@pytest.fixture
def cards_rendered():
    """How many entry cards were rendered since the test began."""
    rendered = []

    def note(sender, template, **kwargs) -> None:
        if template.name == "updates/_entry.html":
            rendered.append(template.name)

    template_rendered.connect(note)
    yield rendered
    template_rendered.disconnect(note)


def test_a_cursor_page_renders_each_card_once_until_the_entry_changes(
    client, entries, cards_rendered, django_assert_num_queries
):
    made = entries(30)
    cursor = client.get("/api/events/harbourside/entries/?limit=5").json()["next"]
    url = f"/api/events/harbourside/entries/?before={cursor}"
    first = client.get(url).json()
    assert len(first["entries"]) == 20
    rendered_before = len(cards_rendered)

    # The event: the page is cached for its revision.
    with django_assert_num_queries(1):
        assert client.get(url).json() == first
    assert len(cards_rendered) == rendered_before

    edited = next(entry for entry in made if entry.pk == first["entries"][3]["id"])
    entry_update(entry=edited, changes={"headline": "Corrected on an older page"})
    again = client.get(url).json()
    assert again["entries"][3]["headline"] == "Corrected on an older page"
    assert "Corrected on an older page" in again["entries"][3]["html"]
    assert len(cards_rendered) == rendered_before + 1
    assert [entry["id"] for entry in again["entries"]] == [
        entry["id"] for entry in first["entries"]
    ]


def test_a_far_page_asks_the_same_two_queries_as_a_near_one(
    client, entries, django_assert_num_queries
):
    entries(50)
    near = client.get("/api/events/harbourside/entries/?limit=1").json()["next"]
    far = client.get("/api/events/harbourside/entries/?limit=45").json()["next"]
    for cursor in (near, far):
        with django_assert_num_queries(2) as captured:
            assert (
                client.get(f"/api/events/harbourside/entries/?before={cursor}").status_code == 200
            )
        page_query = captured.captured_queries[1]["sql"]
        # A seek from the cursor on the index, not an offset to count past.
        assert "OFFSET" not in page_query.upper()
        assert "(published_at, id) <" in page_query


@pytest.mark.parametrize("oldest_first", [False, True])
def test_a_cursor_page_is_a_seek_on_the_live_entries_index(entries, event, oldest_first):
    made = entries(30)
    cursor = Cursor(event.pk, made[10].published_at, made[10].pk)
    sql = selectors._page_sql(oldest_first=oldest_first, after_cursor=True)
    params = [event.pk, True, connection.ops.adapt_datetimefield_value(cursor.published_at)]
    params += [cursor.entry_id, 21]
    with connection.cursor() as db:
        if connection.vendor == "postgresql":
            # Thirty rows: a scan and a sort would be cheaper; ask whether the index can
            # serve the page in order from the cursor.
            db.execute("SET LOCAL enable_seqscan = off")
            db.execute("SET LOCAL enable_sort = off")
            db.execute(f"EXPLAIN {sql}", params)
        else:
            db.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(column) for row in db.fetchall() for column in row)
    assert "entry_live_newest" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


@pytest.mark.parametrize("count", [3, 60])
def test_changes_take_two_queries_whatever_their_number(
    client, entries, count, django_assert_num_queries
):
    entries(count)
    # The event; the changed entries with their event joined.
    with django_assert_num_queries(2):
        assert client.get("/api/events/harbourside/changes/?since=0").status_code == 200


def test_a_cache_that_fails_is_skipped(client, entries, settings):
    entries(3)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2},
        }
    }
    assert client.get("/live/harbourside/").status_code == 200
    assert client.get("/api/events/harbourside/entries/").status_code == 200
