import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from updates.services import entry_delete, entry_update


def entry_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<article id="entry-(\d+)"', html)]


def load_more_link(html: str) -> str:
    """The href of "Load more updates", as a reader without JavaScript follows it."""
    return unescape(re.search(r'id="load-more" href="([^"]+)"', html).group(1))


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

    older = client.get("/live/harbourside/" + load_more_link(first.content.decode()))

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


def test_key_events_are_listed_near_the_top_newest_first(client, make_entry):
    start = timezone.now() - timedelta(hours=2)
    polls = make_entry(headline="Polls close", key_event=True, published_at=start)
    make_entry(headline="Queues", published_at=start + timedelta(minutes=5))
    result = make_entry(headline="Result", key_event=True, published_at=start + timedelta(hours=1))

    html = client.get("/live/harbourside/").content.decode()
    key_events = html[html.index('id="key-events"') : html.index("</nav>")]

    assert key_events.index(f'href="#entry-{result.pk}"') < key_events.index(
        f'href="#entry-{polls.pk}"'
    )
    assert "Queues" not in key_events


def test_an_edited_entry_says_when_it_was_updated(client, make_entry):
    entry = make_entry()
    assert "Updated" not in client.get("/live/harbourside/").content.decode()
    entry_update(entry=entry, changes={"pinned": True})
    assert "Updated" not in client.get("/live/harbourside/").content.decode()
    entry_update(entry=entry, changes={"body": "<p>Corrected figures.</p>"})
    assert "Updated <time" in client.get("/live/harbourside/").content.decode()


@pytest.mark.parametrize(
    "posted_utc, shown",
    [
        (datetime(2026, 7, 2, 21, 5, tzinfo=UTC), "22:05 BST"),
        (datetime(2026, 11, 25, 21, 5, tzinfo=UTC), "21:05 GMT"),
    ],
)
def test_times_read_without_javascript_are_the_sites_time_and_say_its_zone(
    client, make_entry, settings, posted_utc, shown
):
    settings.TIME_ZONE = "Europe/London"
    entry = make_entry(key_event=True, published_at=posted_utc)
    entry_update(entry=entry, changes={"headline": "Turnout 46.2%"})

    live = client.get("/live/harbourside/").content.decode()
    permalink = client.get(entry.get_absolute_url()).content.decode()

    card_time = rf'<time datetime="[^"]+" data-relative>{shown}</time>'
    assert re.search(card_time, live) and re.search(card_time, permalink)
    assert re.search(rf'<li data-id="{entry.pk}".*data-clock data-zone>{shown}</time>', live)
    entry.refresh_from_db()
    edited = entry.edited_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M %Z")
    assert re.search(rf"Updated <time [^>]+>{edited}</time>", live)
    assert "UTC" not in live


def test_every_reader_page_has_exactly_one_main_heading(client, make_entry):
    made = [make_entry(headline=f"Update {n}") for n in range(25)]
    live = client.get("/live/harbourside/").content.decode()

    pages = {
        "events": "/",
        "live": "/live/harbourside/",
        "older entries": "/live/harbourside/" + load_more_link(live),
        "permalink": made[0].get_absolute_url(),
    }
    for name, url in pages.items():
        html = client.get(url).content.decode()
        assert len(re.findall(r"<h1[\s>]", html)) == 1, name
    permalink = client.get(made[0].get_absolute_url()).content.decode()
    assert '<h1 class="entry__headline">Update 0</h1>' in permalink


def test_readers_can_ask_for_oldest_first_and_the_cookie_keeps_it(client, make_entry):
    start = timezone.now() - timedelta(hours=2)
    made = [make_entry(published_at=start + timedelta(minutes=n)) for n in range(25)]
    oldest_20 = [entry.pk for entry in made[:20]]

    assert entry_ids(client.get("/live/harbourside/?order=oldest").content.decode()) == oldest_20
    client.cookies["liveblog_order"] = "oldest"
    page = client.get("/live/harbourside/")
    assert entry_ids(page.content.decode()) == oldest_20
    later = client.get("/live/harbourside/" + load_more_link(page.content.decode()))
    assert entry_ids(later.content.decode()) == [entry.pk for entry in made[20:]]


def test_a_scheduled_event_says_when_it_starts_and_an_ended_one_that_it_ended(client, event):
    from updates.services import event_update

    event_update(event=event, changes={"status": "scheduled"})
    html = client.get("/live/harbourside/").content.decode()
    assert 'id="notice-scheduled">Live coverage starts' in html
    event_update(event=event, changes={"status": "ended"})
    html = client.get("/live/harbourside/").content.decode()
    assert 'id="notice-ended">This live coverage has ended.' in html


def test_production_settings_pass_djangos_deployment_checks():
    import os
    import subprocess
    import sys

    from django.conf import settings

    production = os.environ | {
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-key-" + "x" * 40,
        "ALLOWED_HOSTS": "live.example.org",
    }
    production.pop("HTTPS", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=production,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_carry_the_security_headers(client, event):
    response = client.get("/live/harbourside/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
