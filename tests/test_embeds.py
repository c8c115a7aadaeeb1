"""Video and social posts in entries: which links are taken, what readers get (a
placeholder that fetches nothing), and which frames the pages allow."""

import pytest
from django.core.exceptions import ValidationError

from updates.embeds import embed_for, player_of
from updates.models import Entry

ENTRIES_URL = "/api/events/harbourside/entries/"


@pytest.mark.parametrize(
    ("url", "provider", "player"),
    [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
            "youtube",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        (
            "https://youtu.be/dQw4w9WgXcQ",
            "youtube",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        (
            "https://m.youtube.com/shorts/dQw4w9WgXcQ",
            "youtube",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        ("https://vimeo.com/76979871", "vimeo", "https://player.vimeo.com/video/76979871?dnt=1"),
        ("https://x.com/HarbourCouncil/status/1865000000000000000", "x", ""),
        ("https://bsky.app/profile/council.bsky.social/post/3lbxyz", "bluesky", ""),
        ("https://mastodon.social/@harbourside/113512345678901234", "mastodon", ""),
        ("https://www.instagram.com/p/DCabc123/", "instagram", ""),
        ("https://www.tiktok.com/@council/video/7440000000000000000", "tiktok", ""),
    ],
)
def test_a_link_of_each_provider_is_taken_and_only_players_are_framed(url, provider, player):
    embed = embed_for(url, title="The declaration")
    assert embed == {"kind": "embed", "provider": provider, "url": url, "title": "The declaration"}
    assert player_of(embed) == player


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/watch?v=dQw4w9WgXcQ",
        "http://www.youtube.com/watch?v=dQw4w9WgXcQ",  # not https
        "https://www.youtube.com/watch?v=short",  # no video id
        "https://vimeo.com/channels/staffpicks",
    ],
)
def test_a_link_no_provider_takes_is_refused(url):
    with pytest.raises(ValidationError):
        embed_for(url)


def test_a_site_takes_only_the_providers_it_names(settings):
    settings.EMBED_PROVIDERS = ["vimeo"]
    with pytest.raises(ValidationError, match="Only links to Vimeo can be embedded"):
        embed_for("https://youtu.be/dQw4w9WgXcQ")


def test_an_embed_posted_from_the_desk_reaches_readers_as_a_placeholder(
    journalist_client, client, event
):
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    response = journalist_client.post(
        f"/admin/updates/event/{event.pk}/desk/",
        {
            "headline": "The declaration",
            "body": "<p>Watch the returning officer.</p>",
            "embed_url": url,
            "embed_title": "The returning officer's declaration",
        },
    )
    assert response.status_code == 302

    (item,) = client.get(ENTRIES_URL).json()["entries"][0]["media"]
    assert item == {
        "kind": "embed",
        "provider": "youtube",
        "url": url,
        "title": "The returning officer's declaration",
    }
    card = client.get("/live/harbourside/").content.decode()
    placeholder = card[card.index('<figure class="entry__embed"') : card.index("</article>")]
    assert 'data-player="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in placeholder
    assert "Show content from YouTube" in placeholder
    # Nothing in it that a browser would fetch.
    assert not any(tag in placeholder for tag in ("<iframe", "<script", "<img", "src="))


def test_a_link_no_provider_takes_is_refused_on_the_desk_keeping_what_was_typed(
    journalist_client, event
):
    response = journalist_client.post(
        f"/admin/updates/event/{event.pk}/desk/",
        {"headline": "Results", "body": "<p>See this.</p>", "embed_url": "https://example.com/v"},
    )
    assert response.status_code == 400
    assert "can be embedded" in str(response.context["form"].errors["embed_url"])
    assert response.context["form"]["headline"].value() == "Results"
    assert not Entry.objects.exists()


def test_the_pages_frame_only_the_players_of_the_providers_taken(client, event):
    policy = client.get("/live/harbourside/")["Content-Security-Policy"]
    frame_src = next(part for part in policy.split("; ") if part.startswith("frame-src"))
    assert frame_src.split() == [
        "frame-src",
        "'self'",
        "https://www.youtube-nocookie.com",
        "https://player.vimeo.com",
    ]


def test_a_permalink_with_only_an_embed_shares_the_sites_picture_not_the_embed(client, make_entry):
    entry = make_entry(media=[embed_for("https://youtu.be/dQw4w9WgXcQ")])

    page = client.get(entry.get_absolute_url()).content.decode()

    assert '<meta property="og:image" content="http://testserver/static/share.' in page
    assert "youtu" not in page.partition("<body")[0]


def test_a_deleted_entrys_embed_cannot_be_changed_on_its_change_form(editor_client, make_entry):
    from updates.services import entry_delete

    entry = make_entry(media=[embed_for("https://youtu.be/dQw4w9WgXcQ")])
    entry_delete(entry=entry)
    change_url = f"/admin/updates/entry/{entry.pk}/change/"
    form = editor_client.get(change_url).context["adminform"].form
    assert form.fields["embed_url"].disabled and not form.takes_media

    response = editor_client.post(
        change_url,
        {
            "embed_url": "https://vimeo.com/76979871",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code in (200, 302)
    entry.refresh_from_db()
    assert [item["url"] for item in entry.media] == ["https://youtu.be/dQw4w9WgXcQ"]
