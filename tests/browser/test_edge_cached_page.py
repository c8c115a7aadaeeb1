"""A live page from nginx's cache (deploy/nginx.conf, updates/edge.py), in Chromium: a reader
arriving after another is given the kept copy, which carries no nonce, runs its scripts
with nothing refused by the policy, connects through nginx to Daphne, and shows the next
entry live; and so does a page the browser kept, after a reload answered 304."""

import urllib.request

import pytest
from playwright.async_api import Browser, expect

from tests import test_deploy
from tests.browser.pages import Desk, Reader
from tests.browser.test_content_security_policy import Watched

# nginx with deploy/nginx.conf in front of gunicorn and the reader's Daphne, as
# tests/test_deploy.py runs it.
nginx_binary, gunicorn, nginx = test_deploy.nginx_binary, test_deploy.gunicorn, test_deploy.nginx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What nginx's X-Cache-Status says of an answer from its copy.
FROM_THE_CACHE = {"HIT", "STALE", "UPDATING"}


def first_reader(url: str) -> str:
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=test_deploy.insecure())
    )
    with opener.open(url, timeout=10) as response:
        return response.headers["X-Cache-Status"]


async def goes_live_with_nothing_refused(reader: Reader, watched: Watched, desk: Desk) -> None:
    await reader.wait_until_live()
    entry = await desk.publish("Turnout passes 40 per cent")
    await expect(reader.stream_entry(entry.pk)).to_be_visible()
    await watched.assert_nothing_refused()
    assert reader.errors == []


async def test_a_page_from_the_edge_cache_runs_its_scripts_and_goes_live(
    transactional_db, browser: Browser, nginx, desk: Desk
):
    await desk.publish("Polls are open")
    live = nginx.https + "/live/harbourside/"
    assert first_reader(live) == "MISS"

    context = await browser.new_context(ignore_https_errors=True)
    watched = Watched(await context.new_page(), nginx.https)
    await watched.start()
    reader = Reader(watched.page, nginx.https)
    response = await watched.page.goto(live)
    assert response is not None and response.headers["x-cache-status"] in FROM_THE_CACHE
    assert "nonce" not in response.headers["content-security-policy"]

    await goes_live_with_nothing_refused(reader, watched, desk)
    await context.close()


async def test_a_page_the_browser_kept_runs_its_scripts_after_a_304(
    transactional_db, browser: Browser, reader_server, desk: Desk
):
    # Straight to Daphne, over plain HTTP: Chromium keeps nothing from a host whose
    # certificate it refused, as it does the test's nginx's.
    await desk.publish("Polls are open")
    context = await browser.new_context()
    watched = Watched(await context.new_page(), reader_server.url)
    await watched.start()
    reader = Reader(watched.page, reader_server.url)
    await reader.open("harbourside")
    await reader.wait_until_live()

    # A reload asks with the copy's ETag: the 304's headers (a new policy header among
    # them) go with the browser's copy of the body, which runs as before.
    reloaded = await watched.page.reload()
    assert reloaded is not None
    assert "if-none-match" in await reloaded.request.all_headers()
    await goes_live_with_nothing_refused(reader, watched, desk)
    await context.close()
