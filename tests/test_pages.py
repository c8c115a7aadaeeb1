import re
from datetime import timedelta

from django.utils import timezone

from updates.services import entry_delete, entry_update


def entry_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<article id="entry-(\d+)"', html)]


def test_the_live_page_shows_the_newest_20_entries_with_the_pinned_one_first(client, make_entry):
    start = timezone.now() - timedelta(hours=2)
    made = [
        make_entry(headline=f"Update {n}", published_at=start + timedelta(minutes=n))
        for n in range(25)
    ]
    entry_update(entry=made[3], changes={"pinned": True})

    response = client.get("/live/harbourside/")

    assert response.status_code == 200
    ids = entry_ids(response.content.decode())
    newest_20 = [entry.pk for entry in made[::-1][:20]]
    assert ids == [made[3].pk] + newest_20


def test_the_pinned_entry_is_not_shown_twice(client, make_entry):
    pinned = make_entry(pinned=True)
    ids = entry_ids(client.get("/live/harbourside/").content.decode())
    assert ids == [pinned.pk]


def test_the_page_tells_its_script_where_it_stands(client, make_entry):
    make_entry()
    response = client.get("/live/harbourside/")
    assert '"revision": 1' in response.content.decode()
    assert '"socketPath": "/ws/live/harbourside/"' in response.content.decode()


def test_readers_without_javascript_follow_a_link_to_older_entries(client, make_entry):
    start = timezone.now() - timedelta(hours=2)
    made = [
        make_entry(headline=f"Update {n}", published_at=start + timedelta(minutes=n))
        for n in range(30)
    ]
    first = client.get("/live/harbourside/")
    link = first.context["next_cursor"]
    assert 'id="load-more" href="?before=' in first.content.decode()

    older = client.get("/live/harbourside/", {"before": link})

    assert entry_ids(older.content.decode()) == [entry.pk for entry in made[::-1][20:]]
    assert "Back to the latest" in older.content.decode()


def test_a_bad_cursor_on_the_page_is_a_400(client, event):
    assert client.get("/live/harbourside/", {"before": "garbage"}).status_code == 400


def test_deleted_entries_are_not_shown(client, make_entry):
    kept, gone = make_entry(), make_entry(headline="Wrong result")
    entry_delete(entry=gone)
    assert entry_ids(client.get("/live/harbourside/").content.decode()) == [kept.pk]


def test_an_entry_has_a_permalink_with_share_metadata(client, make_entry):
    entry = make_entry(headline="Greens gain Harbourside", body="<p>A majority of 1,047.</p>")
    response = client.get(f"/live/harbourside/entries/{entry.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Greens gain Harbourside" in html
    assert '<meta property="og:description" content="A majority of 1,047.">' in html
    assert f'<article id="entry-{entry.pk}"' in html


def test_a_deleted_entrys_permalink_is_gone(client, make_entry):
    entry = make_entry()
    entry_delete(entry=entry)
    assert client.get(f"/live/harbourside/entries/{entry.pk}/").status_code == 404


def test_an_unknown_event_is_a_404(client, db):
    assert client.get("/live/nope/").status_code == 404


def test_the_front_page_lists_live_events_first(client, event):
    from updates.services import event_create

    event_create(title="Cup final", slug="cup-final", status="ended")
    html = client.get("/").content.decode()
    assert html.index("Harbourside by-election") < html.index("Cup final")
