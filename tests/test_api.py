import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from updates import forms
from updates.models import Event
from updates.selectors import Cursor
from updates.services import entry_delete, entry_update

ENTRIES_URL = "/api/events/harbourside/entries/"
CHANGES_URL = "/api/events/harbourside/changes/"


@pytest.fixture
def many_entries(make_entry):
    """125 entries a minute apart, the newest first in the returned list."""
    start = timezone.now() - timedelta(hours=3)
    made = [
        make_entry(headline=f"Update {n}", published_at=start + timedelta(minutes=n))
        for n in range(125)
    ]
    return made[::-1]


def page_through(client, limit: int = 20, between_pages=lambda number: None) -> list[int]:
    ids, url, number = [], f"{ENTRIES_URL}?limit={limit}", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        data = response.json()
        ids += [entry["id"] for entry in data["entries"]]
        url = f"{ENTRIES_URL}?limit={limit}&before={data['next']}" if data["next"] else None
        number += 1
        between_pages(number)
    return ids


def test_paging_by_20_returns_each_entry_once_newest_first(client, many_entries):
    assert page_through(client) == [entry.pk for entry in many_entries]


def test_paging_stays_exact_while_entries_are_published_and_deleted(
    client, many_entries, make_entry
):
    deleted = []

    def newsroom_at_work(page_number: int) -> None:
        make_entry(headline=f"Breaking {page_number}")  # lands above the cursor
        victim = many_entries[page_number * 20 + 5] if page_number * 20 + 5 < 125 else None
        if victim:  # an entry on a page not yet read
            entry_delete(entry=victim)
            deleted.append(victim.pk)

    ids = page_through(client, between_pages=newsroom_at_work)

    assert len(ids) == len(set(ids))
    assert ids == [entry.pk for entry in many_entries if entry.pk not in deleted]


def test_an_entry_moved_in_time_is_seen_once(client, many_entries):
    first_page = client.get(f"{ENTRIES_URL}?limit=20").json()
    entry_update(entry=many_entries[100], changes={"published_at": timezone.now()})
    rest = page_through_from(client, first_page["next"])
    ids = [e["id"] for e in first_page["entries"]] + rest
    assert len(ids) == len(set(ids)) == 124  # moved above the cursor: on the first page next time


def page_through_from(client, cursor: str) -> list[int]:
    ids = []
    while cursor:
        data = client.get(f"{ENTRIES_URL}?limit=20&before={cursor}").json()
        ids += [entry["id"] for entry in data["entries"]]
        cursor = data["next"]
    return ids


def test_an_entry_has_the_documented_shape(client, make_entry):
    entry = make_entry(headline="Polls are open", body="<p>From 7am.</p>")
    data = client.get(ENTRIES_URL).json()
    assert data["revision"] == 1 and data["next"] is None
    (item,) = data["entries"]
    assert set(item) == {
        "id",
        "headline",
        "body",
        "byline",
        "published_at",
        "updated_at",
        "edited_at",
        "correction",
        "pinned",
        "key_event",
        "media",
        "revision",
        "url",
        "html",
    }
    assert item["headline"] == "Polls are open"
    assert item["body"] == "<p>From 7am.</p>"
    assert item["published_at"].endswith("Z")
    assert item["url"] == f"/live/harbourside/entries/{entry.pk}/"
    assert item["html"].startswith(f'<article id="entry-{entry.pk}"')


def test_changes_since_a_revision_come_oldest_first_with_tombstones(client, make_entry):
    first, second, third = make_entry(), make_entry(), make_entry()
    entry_update(entry=first, changes={"headline": "Corrected"})
    entry_delete(entry=second)

    data = client.get(f"{CHANGES_URL}?since=2").json()

    assert data["revision"] == 5
    assert [(c["id"], c["revision"]) for c in data["changes"]] == [
        (third.pk, 3),
        (first.pk, 4),
        (second.pk, 5),
    ]
    assert data["changes"][1]["headline"] == "Corrected"
    assert data["changes"][2] == {"id": second.pk, "deleted": True, "revision": 5}
    assert data["event"]["revision"] == 5
    assert "reset" not in data


def test_changes_since_the_current_revision_are_none(client, make_entry):
    make_entry()
    data = client.get(f"{CHANGES_URL}?since=1").json()
    assert (data["revision"], data["changes"]) == (1, [])


def test_changes_since_a_revision_from_the_future_ask_for_a_reset(client, make_entry):
    make_entry()
    data = client.get(f"{CHANGES_URL}?since=99").json()
    assert (data["revision"], data["reset"], data["changes"]) == (1, True, [])


def test_too_many_changes_ask_for_a_reset(client, make_entry, monkeypatch):
    monkeypatch.setattr("updates.selectors.CHANGES_LIMIT", 3)
    for _ in range(4):
        make_entry()
    assert client.get(f"{CHANGES_URL}?since=0").json()["reset"] is True
    assert "reset" not in client.get(f"{CHANGES_URL}?since=1").json()


def test_the_event_is_served_with_its_revision(client, make_entry):
    make_entry()
    data = client.get("/api/events/harbourside/").json()
    assert data["title"] == "Harbourside by-election"
    assert data["status"] == "live"
    assert data["revision"] == 1


def foreign_cursor(db) -> str:
    other = Event.objects.create(title="Cup final", slug="cup-final")
    return Cursor(other.pk, timezone.now(), 1).encode()


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        f"limit={10**9}",
        "limit=ten",
        "limit=-1",
        "limit=1.5",
        "before=garbage",
        "before=" + "x" * 600,
        # A cursor signed for another purpose, or tampered with.
        "before=WzEsIjIwMjYtMDEtMDFUMDA6MDA6MDArMDA6MDAiLDFd:1uJ4cG:abc",
    ],
)
def test_bad_entry_page_parameters_get_a_400_with_a_reason(client, event, query):
    response = client.get(f"{ENTRIES_URL}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


def test_oldest_first_pages_forward_in_time_with_after(client, many_entries):
    ids, url = [], f"{ENTRIES_URL}?order=oldest&limit=20"
    while url:
        data = client.get(url).json()
        ids += [entry["id"] for entry in data["entries"]]
        url = f"{ENTRIES_URL}?after={data['next']}&limit=20" if data["next"] else None
    assert ids == [entry.pk for entry in reversed(many_entries)]


@pytest.mark.parametrize(
    "query", ["order=sideways", "before={cursor}&after={cursor}", "order=oldest&before={cursor}"]
)
def test_contradictory_order_parameters_get_a_400(client, make_entry, query):
    make_entry(), make_entry()
    cursor = client.get(f"{ENTRIES_URL}?limit=1").json()["next"]
    response = client.get(f"{ENTRIES_URL}?{query.format(cursor=cursor)}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_a_cursor_of_another_event_gets_a_400(client, event):
    response = client.get(f"{ENTRIES_URL}?before={foreign_cursor(event)}")
    assert response.status_code == 400
    assert "another event" in response.json()["error"]


def tampered(cursor: str) -> list[str]:
    flipped = "B" if cursor[-1] == "A" else "A"
    return [cursor[:-1] + flipped, cursor + "A", cursor[:-1], cursor.replace(":", ":A", 1)]


@pytest.mark.parametrize("kept", ["", "&min_revision=125"], ids=["cached", "held"])
def test_a_tampered_cursor_gets_a_400_after_the_genuine_page_was_kept(client, many_entries, kept):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    # Kept now: cached for this revision, and held by this process when the revision is said.
    assert client.get(f"{ENTRIES_URL}?before={cursor}{kept}").status_code == 200
    for bad in tampered(cursor):
        response = client.get(f"{ENTRIES_URL}?before={bad}{kept}")
        assert response.status_code == 400, bad
        assert response.json() == {"error": "before: is not a cursor this site gave out"}
    # The form reads the last of repeated parameters, and so do the pages' keys.
    response = client.get(f"{ENTRIES_URL}?before={cursor}&before={tampered(cursor)[0]}{kept}")
    assert response.status_code == 400


def test_a_served_cursor_page_is_refused_once_the_secret_key_changes(
    client, many_entries, settings
):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    assert client.get(f"{ENTRIES_URL}?before={cursor}").status_code == 200

    settings.SECRET_KEY = "a new key after a leak " * 3
    response = client.get(f"{ENTRIES_URL}?before={cursor}")
    assert response.status_code == 400
    assert response.json()["error"] == "before: is not a cursor this site gave out"


def test_junk_parameters_get_the_same_cursor_page(client, many_entries):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    page = client.get(f"{ENTRIES_URL}?before={cursor}").json()
    assert client.get(f"{ENTRIES_URL}?before={cursor}&utm_source=x").json() == page
    assert page["entries"][0]["id"] == many_entries[5].pk


@pytest.mark.parametrize(
    "query", ["", "since=", "since=-1", "since=abc", f"since={10**30}", "since=" + "9" * 5000]
)
def test_bad_changes_parameters_get_a_400_with_a_reason(client, event, query):
    response = client.get(f"{CHANGES_URL}?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith("since:")


@pytest.mark.parametrize(
    "url", ["/api/events/nope/", "/api/events/nope/entries/", "/api/events/nope/changes/?since=0"]
)
def test_an_unknown_event_gets_a_json_404(client, db, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {"error": "no such event or entry"}


def test_the_api_only_reads(client, event):
    response = client.post(ENTRIES_URL, {"headline": "Sneaky"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"error": "POST is not allowed: this API only reads"}


def test_the_health_check_answers_without_touching_the_database(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"status": "ok"}


def test_load_more_that_says_its_revision_is_answered_from_this_process(
    client, many_entries, django_assert_num_queries
):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    url = f"{ENTRIES_URL}?before={cursor}&min_revision=125"
    first = client.get(url)
    assert first.status_code == 200
    assert first["Cache-Control"] == "public, max-age=30"
    cache.clear()  # nor Redis: held in this process's memory

    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.content == first.content
    assert again["Cache-Control"] == "public, max-age=30"


def test_a_held_page_is_not_given_to_a_reader_who_has_seen_a_newer_change(client, many_entries):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    assert client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=125").json()["revision"] == 125
    entry_update(entry=many_entries[6], changes={"headline": "Update 118, corrected"})

    # A reader whose page has not heard of the correction may get the page as it was:
    # the correction is on its way to that reader's feed, which applies it to the page.
    before = client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=125").json()
    assert before["revision"] == 125
    assert before["entries"][1]["headline"] == "Update 118"
    # A reader that has seen it gets the page as of the correction.
    after = client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=126").json()
    assert after["revision"] == 126
    assert after["entries"][1]["headline"] == "Update 118, corrected"


def test_without_min_revision_a_page_is_as_of_the_events_revision(client, many_entries):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=125")
    entry_update(entry=many_entries[6], changes={"headline": "Update 118, corrected"})

    response = client.get(f"{ENTRIES_URL}?before={cursor}")
    assert response.json()["entries"][1]["headline"] == "Update 118, corrected"
    # Right only for now: not for anyone to keep.
    assert "Cache-Control" not in response


def test_the_newest_page_is_not_held(client, many_entries, django_assert_num_queries):
    # A newest page names no event (a cursor does): the event under a slug may change.
    client.get(f"{ENTRIES_URL}?min_revision=125")
    cache.clear()
    with django_assert_num_queries(2):  # the event, the page
        response = client.get(f"{ENTRIES_URL}?min_revision=125")
    # Kept by a shared cache for a moment, with its ETag (tests/test_edge_cache.py), never
    # for as long as a held page.
    assert response["Cache-Control"] == "public, max-age=0, s-maxage=2, stale-while-revalidate=30"


def test_a_reader_ahead_of_the_event_gets_a_page_not_to_be_kept(client, many_entries):
    # A revision the event has not reached: a page from another database, say.
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    response = client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=9000")
    assert response.json()["revision"] == 125
    assert "Cache-Control" not in response


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", str(10**30)])
def test_a_bad_min_revision_gets_a_400_even_for_a_page_at_hand(client, many_entries, value):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=125")

    response = client.get(f"{ENTRIES_URL}?before={cursor}&min_revision={value}")
    assert response.status_code == 400
    assert response.json()["error"].startswith("min_revision: ")


def test_a_held_page_answers_only_at_its_own_events_address(client, many_entries):
    Event.objects.create(title="Cup final", slug="cup-final")
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    assert client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=0").status_code == 200

    response = client.get(f"/api/events/cup-final/entries/?before={cursor}&min_revision=0")
    assert response.status_code == 400
    assert "another event" in response.json()["error"]


def test_cursors_made_at_different_times_for_one_entry_find_the_same_held_page(
    client, many_entries, monkeypatch, django_assert_num_queries
):
    earlier = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    held = client.get(f"{ENTRIES_URL}?before={earlier}&min_revision=125")
    # The live page rendered a minute later (a new revision) signs the same position anew.
    a_minute_later = time.time() + 60
    monkeypatch.setattr(signing.time, "time", lambda: a_minute_later)
    later = Cursor.decode(earlier).encode()
    assert later != earlier

    with django_assert_num_queries(0):
        again = client.get(f"{ENTRIES_URL}?before={later}&min_revision=125")
    assert again.content == held.content


@pytest.fixture
def validations(monkeypatch) -> list[dict]:
    """The data of each query of entries/ that EntryListForm validates from now on."""
    forms._entries_asked.cache_clear()  # the queries other tests asked
    validated, full_clean = [], forms.EntryListForm.full_clean

    def counted(form: forms.EntryListForm) -> None:
        validated.append(form.data)
        full_clean(form)

    monkeypatch.setattr(forms.EntryListForm, "full_clean", counted)
    return validated


def test_a_load_more_query_is_validated_once_however_many_readers_ask_it(
    client, many_entries, validations
):
    cursor = client.get(f"{ENTRIES_URL}?limit=5").json()["next"]
    for junk in ["", "&utm_source=x", "", "&utm_source=y"]:
        response = client.get(f"{ENTRIES_URL}?before={cursor}&min_revision=125{junk}")
        assert response.status_code == 200
    assert [data.get("before") for data in validations] == [None, cursor]


def test_a_refused_load_more_query_is_validated_each_time(client, many_entries, validations):
    for _ in range(3):
        assert client.get(f"{ENTRIES_URL}?limit=0").status_code == 400
    assert len(validations) == 3


# int() reads all of these as numbers, and IntegerField "3.0" too: so many addresses for
# one page, which caches keyed on the address would each keep.
NOT_PLAIN_DIGITS = ["٣", "１２", "३", "+3", " 3", "3 ", "03", "00", "-0", "3.0", "1_0", "0x3", ""]
PLAIN_DIGITS_ONLY = "must be a number in the digits 0 to 9, with no sign, space or leading zero"


@pytest.mark.parametrize("value", NOT_PLAIN_DIGITS)
@pytest.mark.parametrize(
    "url, name",
    [
        (f"{ENTRIES_URL}?", "limit"),
        (f"{ENTRIES_URL}?", "min_revision"),
        (f"{CHANGES_URL}?", "since"),
        (f"{CHANGES_URL}?since=0&", "since"),  # the last of repeated parameters counts
    ],
)
def test_a_number_not_in_plain_ascii_digits_gets_a_400_saying_so(client, event, url, name, value):
    response = client.get(url + urlencode({name: value}))
    assert response.status_code == 400
    assert response.json() == {"error": f"{name}: {PLAIN_DIGITS_ONLY}"}


@pytest.mark.parametrize(
    "query", ["limit=3", "limit=100", "min_revision=0", "min_revision=12", "limit=1&min_revision=0"]
)
def test_a_number_in_plain_ascii_digits_is_read(client, event, query):
    assert client.get(f"{ENTRIES_URL}?{query}").status_code == 200


@pytest.mark.parametrize("since", ["0", "7", str(2**62)])
def test_a_revision_in_plain_ascii_digits_is_read(client, event, since):
    assert client.get(f"{CHANGES_URL}?since={since}").status_code == 200
