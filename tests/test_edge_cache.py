"""What a shared cache in front (deploy/nginx.conf, a CDN) may keep of the answers a crowd
asks for and every publish changes (updates/edge.py): the live page, its embed and the
API's newest page carry an ETag of their revision, and asked again with it they are a 304
before anything is rendered, until a publish; they may be kept by any cache for a
moment, carry no per-response nonce, and the order a reader's cookie chose is that
reader's alone. What changed since a revision (changes/) is never kept."""

import pytest

from updates.views import ORDER_COOKIE

LIVE = "/live/harbourside/"
CACHEABLE = {
    "the live page": LIVE,
    "the live page, oldest first": f"{LIVE}?order=oldest",
    "the embed": f"{LIVE}embed/",
    "the API's newest page": "/api/events/harbourside/entries/",
    "the API's newest page, oldest first": "/api/events/harbourside/entries/?order=oldest",
}
SHARED = "public, max-age=0, s-maxage=2, stale-while-revalidate=30"


@pytest.fixture
def entry(make_entry):
    return make_entry(headline="Polls are open")


@pytest.mark.parametrize("url", CACHEABLE.values(), ids=CACHEABLE.keys())
def test_asked_again_with_its_etag_it_is_a_304_for_one_query_until_a_publish(
    client, entry, make_entry, url, django_assert_num_queries
):
    first = client.get(url)
    assert first.status_code == 200
    assert first["Cache-Control"] == SHARED

    with django_assert_num_queries(1):  # the event: nothing is rendered
        again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    # What the 200 said of caching, for a cache that freshens its copy with the 304.
    assert (again["ETag"], again["Cache-Control"]) == (first["ETag"], SHARED)

    make_entry(headline="Turnout passes 40 per cent")
    after = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert after.status_code == 200
    assert after["ETag"] != first["ETag"]
    assert "Turnout passes 40 per cent" in after.content.decode()


def test_each_order_and_page_has_its_own_etag(client, entry):
    tags = {client.get(url)["ETag"] for url in CACHEABLE.values()}
    assert len(tags) == len(CACHEABLE)


@pytest.mark.parametrize("url", CACHEABLE.values(), ids=CACHEABLE.keys())
def test_a_page_a_cache_keeps_carries_no_nonce(client, entry, url):
    response = client.get(url)
    assert "nonce-" not in response["Content-Security-Policy"]
    assert b"nonce=" not in response.content


def test_the_order_a_readers_cookie_chose_is_theirs_alone(client, entry, make_entry):
    make_entry(headline="Turnout passes 40 per cent")
    client.cookies[ORDER_COOKIE] = "oldest"
    response = client.get(LIVE)
    stream = response.content.decode().partition('id="stream"')[2]
    assert stream.index("Polls are open") < stream.index("Turnout passes 40 per cent")
    assert response["Cache-Control"] == "private, max-age=0"
    # Their browser may still ask with the ETag, which names the order it showed.
    assert response["ETag"] == client.get(f"{LIVE}?order=oldest")["ETag"]
    again = client.get(LIVE, headers={"If-None-Match": response["ETag"]})
    assert (again.status_code, again["Cache-Control"]) == (304, "private, max-age=0")


def test_an_older_page_and_what_changed_since_a_revision_are_not_the_edges(client, entry):
    changes = client.get("/api/events/harbourside/changes/?since=0")
    assert "no-store" in changes["Cache-Control"]
    assert "ETag" not in changes
    cursor = client.get("/api/events/harbourside/entries/?limit=1").json()["next"]
    older = client.get(f"{LIVE}?before={cursor}")
    assert "ETag" not in older
