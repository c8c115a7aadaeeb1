"""Contributors and approval: a contributor's entry waits for an editor, who approves it
(readers see it) or returns it with a note; until approved, no reader path shows it."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from liveblog.asgi import application
from tests.test_admin import edit_form, entry_form
from updates.entry_actions import entry_actions_offered
from updates.models import Entry, Event
from updates.services import entry_approve, entry_publish, entry_publish_due, entry_return

HEADLINE = "Ballot box found in a skip"
WORDS = "Unchecked words from the harbour wall."
ADD_URL = "/admin/updates/entry/add/"
LIST_URL = "/admin/updates/entry/"


def desk_url(event: Event) -> str:
    return f"/admin/updates/event/{event.pk}/desk/"


def action_url(entry: Entry, action: str) -> str:
    return f"/admin/updates/event/{entry.event_id}/desk/entries/{entry.pk}/{action}/"


def return_url(entry: Entry) -> str:
    return f"/admin/updates/event/{entry.event_id}/desk/review/{entry.pk}/return/"


def change_url(entry: Entry) -> str:
    return f"/admin/updates/entry/{entry.pk}/change/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_from_the_desk(client: Client, event: Event, **fields) -> Entry:
    data = {"headline": HEADLINE, "body": f"<p>{WORDS}</p>", "byline": "Cal Moreno"} | fields
    response = client.post(desk_url(event), data)
    assert response.status_code == 302
    return Entry.objects.get(headline=data["headline"])


def post_from_the_admin(client: Client, event: Event) -> Entry:
    response = client.post(
        ADD_URL, entry_form(event, headline=HEADLINE, body=f"<p>{WORDS}</p>"), follow=True
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert f"Sent to the editors for approval: {HEADLINE}" in messages
    return Entry.objects.get(headline=HEADLINE)


@pytest.fixture
def contributor_client(contributor) -> Client:
    return logged_in(contributor)


@pytest.fixture
def waiting(event, contributor) -> Entry:
    return entry_publish(event=event, author=contributor, headline=HEADLINE, body=f"<p>{WORDS}</p>")


# Every reader path --------------------------------------------------------------------

# What a reader can ask for that could hold an entry; each is searched for the entry's
# headline, its words and its permalink.
READER_PATHS = {
    "live page": "/live/harbourside/",
    "embed": "/live/harbourside/embed/",
    "API entries": "/api/events/harbourside/entries/?limit=100",
    "API changes": "/api/events/harbourside/changes/?since=0",
    "API event": "/api/events/harbourside/",
    "event feed": "/live/harbourside/feed/",
    "events feed": "/feed/",
    "sitemap index": "/sitemap.xml",
    "entries sitemap": "/sitemap-entries.xml",
    "news sitemap": "/news-sitemap.xml",
    "home": "/",
}
# Where an approved entry shows (the others list events, not entries).
SHOWN_ONCE_APPROVED = {
    "live page",
    "embed",
    "API entries",
    "API changes",
    "event feed",
    "entries sitemap",
    "permalink",
}


def paths_showing(entry: Entry) -> set[str]:
    """The reader paths that show anything of the entry, as a reader's client gets them."""
    reader = Client()
    permalink = f"/live/harbourside/entries/{entry.pk}/"
    showing = set()
    for name, url in READER_PATHS.items():
        response = reader.get(url)
        assert response.status_code == 200, (name, response.status_code)
        text = response.content.decode()
        if HEADLINE in text or WORDS in text or permalink in text:
            showing.add(name)
    answer = reader.get(permalink)
    if answer.status_code != 404:
        assert answer.status_code == 200 and HEADLINE in answer.content.decode()
        showing.add("permalink")
    return showing


@pytest.mark.parametrize("posted_from", ["desk", "admin"])
def test_a_contributors_entry_reaches_no_reader_path_until_an_editor_approves_it(
    contributor_client, editor, event, posted_from
):
    post = post_from_the_desk if posted_from == "desk" else post_from_the_admin
    entry = post(contributor_client, event)
    assert (entry.review, entry.live, entry.revision, entry.author.username) == (
        "waiting",
        False,
        None,
        "cal",
    )
    assert paths_showing(entry) == set()
    # The admin's preview is the newsroom's: it may show it.
    preview = contributor_client.post(f"{desk_url(event)}preview/", {"headline": HEADLINE})
    assert HEADLINE in preview.content.decode()

    response = logged_in(editor).post(action_url(entry, "approve"))

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.review, entry.live, entry.revision) == ("", True, 1)
    assert paths_showing(entry) == SHOWN_ONCE_APPROVED


def test_a_returned_entry_edited_by_its_contributor_waits_again_unseen(
    contributor_client, editor, waiting
):
    entry_return(entry=waiting, by=editor, note="Which skip? Name the street.")

    response = contributor_client.post(
        change_url(waiting), edit_form(waiting, headline=f"{HEADLINE} on Quay Street")
    )

    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.review, waiting.live, waiting.revision) == ("waiting", False, None)
    assert paths_showing(waiting) == set()


def test_a_scheduled_contributors_entry_approved_early_goes_live_at_its_time_once(
    event, contributor, editor
):
    at = timezone.now() + timedelta(minutes=30)
    entry = entry_publish(
        event=event, author=contributor, headline=HEADLINE, body="<p>x</p>", published_at=at
    )
    assert entry_publish_due(now=at) == []  # waiting: not due, however late

    entry_approve(entry=entry, by=editor)

    assert (entry.live, entry.revision, entry.state) == (False, None, "scheduled")
    assert entry_publish_due() == []
    assert entry_publish_due(now=at) == [entry]
    assert entry_publish_due(now=at + timedelta(minutes=1)) == []
    entry.refresh_from_db()
    assert (entry.live, entry.revision) == (True, 1)


@pytest.mark.django_db(transaction=True)
async def test_a_reader_on_the_websocket_gets_no_frame_until_the_entry_is_approved(
    event, journalist, contributor, editor
):
    reader = WebsocketCommunicator(
        application, "/ws/live/harbourside/", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await reader.connect()
    assert connected
    assert await reader.receive_json_from() == {"type": "hello", "revision": 0}

    # Through the desk, the whole way a post goes: the services' after-commit delivery.
    waiting = await database_sync_to_async(
        lambda: post_from_the_desk(logged_in(contributor), event)
    )()
    later = await database_sync_to_async(entry_publish)(
        event=event, author=journalist, headline="Polls close at 10pm", body="<p>x</p>"
    )
    # The next frame is the journalist's, numbered 1: the contributor's took no number.
    first = await reader.receive_json_from(timeout=3)
    assert (first["type"], first["revision"], first["entry"]["id"]) == (
        "entry.created",
        1,
        later.pk,
    )

    await database_sync_to_async(lambda: logged_in(editor).post(action_url(waiting, "approve")))()

    approved = await reader.receive_json_from(timeout=3)
    assert (approved["type"], approved["revision"], approved["entry"]["id"]) == (
        "entry.created",
        2,
        waiting.pk,
    )
    assert approved["entry"]["headline"] == HEADLINE
    await reader.disconnect()


# The desk's review queue --------------------------------------------------------------


def test_the_desk_tells_a_contributor_their_post_went_to_the_editors(contributor_client, event):
    response = contributor_client.post(
        desk_url(event), {"headline": HEADLINE, "body": "<p>x</p>"}, follow=True
    )
    assert f"Sent to the editors for approval: {HEADLINE}" in response.content.decode()


def test_an_editor_sees_the_queue_newest_first_with_approve_and_a_return_form(
    editor, contributor, event
):
    start = timezone.now() - timedelta(hours=1)
    older = entry_publish(
        event=event, author=contributor, headline="First", body="<p>one</p>", published_at=start
    )
    newer = entry_publish(
        event=event,
        author=contributor,
        headline="Second",
        body="<p>two</p>",
        published_at=start + timedelta(minutes=5),
    )

    response = logged_in(editor).get(desk_url(event))

    html = response.content.decode()
    assert "Awaiting approval: 2 entries" in html
    assert html.index(f'id="review-{newer.pk}"') < html.index(f'id="review-{older.pk}"')
    queue = html[html.index('id="review-queue"') : html.index("</section>")]
    assert "<p>one</p>" in queue and "by cal" in queue
    assert action_url(newer, "approve") in queue
    assert return_url(newer) in queue
    assert f'<textarea name="note" id="return-note-{newer.pk}" rows="2" required>' in queue


def test_a_journalist_sees_how_many_wait_and_a_contributor_sees_only_their_own(
    journalist_client, contributor, editor, event, db
):
    cal = entry_publish(event=event, author=contributor, headline="Cal's", body="<p>x</p>")
    other = User.objects.create_user("dee", is_staff=True)
    other.groups.set(contributor.groups.all())
    entry_publish(event=event, author=other, headline="Dee's", body="<p>x</p>")
    entry_return(entry=cal, by=editor, note="Add the ward's name.")

    journalists = journalist_client.get(desk_url(event)).content.decode()
    assert "1 entry from contributors is awaiting an editor's approval." in journalists
    assert "return-note-" not in journalists

    cals = logged_in(contributor).get(desk_url(event)).content.decode()
    queue = cals[cals.index('id="review-queue"') : cals.index("</section>")]
    assert "Your entries with the editors" in queue
    assert "Cal&#x27;s" in queue and "Dee&#x27;s" not in queue
    assert "Note from the editor:</strong> Add the ward&#x27;s name." in queue
    assert "return-note-" not in queue


def test_an_editor_returns_an_entry_with_a_note_the_contributor_reads_on_the_change_form(
    editor, contributor_client, waiting
):
    response = logged_in(editor).post(
        return_url(waiting), {"note": "  Which skip? Name the street.  "}, follow=True
    )

    assert response.status_code == 200
    assert f"Returned to cal with your note: {HEADLINE}" in response.content.decode()
    waiting.refresh_from_db()
    assert (waiting.review, waiting.review_note, waiting.live) == (
        "returned",
        "Which skip? Name the street.",
        False,
    )
    change_form = contributor_client.get(change_url(waiting)).content.decode()
    assert "Note from the editor:</strong> Which skip? Name the street." in change_form


def test_a_return_without_a_note_is_refused_and_the_entry_still_waits(editor, waiting):
    response = logged_in(editor).post(return_url(waiting), {"note": "   "}, follow=True)

    assert response.status_code == 200
    assert "Write a note saying what the contributor should change" in response.content.decode()
    waiting.refresh_from_db()
    assert (waiting.review, waiting.review_note) == ("waiting", "")


def test_a_return_of_an_entry_already_approved_says_so_and_repeats_the_note(editor, waiting):
    entry_approve(entry=waiting, by=editor)
    client = logged_in(editor)

    returned = client.post(return_url(waiting), {"note": "Name the street."}, follow=True)
    approved_again = client.post(action_url(waiting, "approve"), follow=True)

    assert "Your note was: “Name the street.”" in returned.content.decode()
    assert "not awaiting approval" in approved_again.content.decode()
    waiting.refresh_from_db()
    assert (waiting.review, waiting.live) == ("", True)


def test_only_editors_approve_or_return(journalist_client, contributor_client, waiting):
    for client in (journalist_client, contributor_client):
        assert client.post(action_url(waiting, "approve")).status_code == 403
        assert client.post(return_url(waiting), {"note": "No."}).status_code == 403
    waiting.refresh_from_db()
    assert waiting.review == "waiting"


# What a contributor may change ---------------------------------------------------------


def test_a_contributor_edits_their_own_entry_until_it_is_approved(
    contributor, contributor_client, editor, waiting
):
    response = contributor_client.post(change_url(waiting), edit_form(waiting, headline="Fixed"))
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.headline, waiting.review) == ("Fixed", "waiting")

    entry_approve(entry=waiting, by=editor)

    # Opened read-only now: no Save, and a save by hand is refused.
    page = contributor_client.get(change_url(waiting))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    refused = contributor_client.post(change_url(waiting), edit_form(waiting, headline="Again"))
    assert refused.status_code == 403
    waiting.refresh_from_db()
    assert waiting.headline == "Fixed"


def test_a_contributor_gets_no_button_on_anyone_elses_entry(
    contributor, contributor_client, make_entry, waiting
):
    others = make_entry(headline="Sam's", draft=True)

    assert entry_actions_offered(others, contributor) == []
    assert [name for name, _ in entry_actions_offered(waiting, contributor)] == ["key"]
    desk = contributor_client.get(desk_url(others.event)).content.decode()
    for action in ("key", "publish", "pin", "delete"):
        assert action_url(others, action) not in desk
    assert action_url(waiting, "key") in desk
    # Nor does a hand-made form, on the desk or in the admin, change it.
    assert contributor_client.post(action_url(others, "publish")).status_code == 403
    assert contributor_client.get(change_url(others)).status_code == 200  # to read
    assert contributor_client.post(change_url(others), edit_form(others)).status_code == 403
    contributor_client.post(LIST_URL, {"action": "publish", "_selected_action": [others.pk]})
    others.refresh_from_db()
    assert (others.draft, others.headline) == (True, "Sam's")


def test_the_admin_lists_and_filters_the_state_in_the_desks_words_and_approves_from_the_list(
    editor_client, editor, contributor, event
):
    returned = entry_publish(event=event, author=contributor, headline="Back", body="<p>x</p>")
    entry_return(entry=returned, by=editor, note="Shorter.")
    waiting = entry_publish(event=event, author=contributor, headline="Wait", body="<p>x</p>")

    listed = editor_client.get(LIST_URL).content.decode()
    assert '<td class="field-state">Awaiting approval</td>' in listed
    assert '<td class="field-state">Returned</td>' in listed
    for state, entries in {"approval": [waiting], "returned": [returned], "waiting": []}.items():
        shown = editor_client.get(f"{LIST_URL}?state={state}").context["cl"].result_list
        assert list(shown) == entries, state

    editor_client.post(
        LIST_URL, {"action": "approve", "_selected_action": [waiting.pk, returned.pk]}
    )

    waiting.refresh_from_db()
    returned.refresh_from_db()
    assert (waiting.review, waiting.live) == ("", True)
    assert returned.review == "returned"  # only what waits is approved
