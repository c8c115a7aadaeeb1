"""A deploy that changes how entries are rendered serves the new markup at once, though the
shared Redis still holds what the old release rendered (updates/cache_keys.py)."""

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests.servers import SERVERS, DaphneServer, daphne_start
from updates import cache_keys
from updates.models import Entry

MARK = "entry__headline--since-the-deploy"
ANSWERS = (
    "/live/harbourside/",
    "/api/events/harbourside/entries/",
    "/api/events/harbourside/changes/?since=0",
)


@pytest.fixture
def changed_card(tmp_path: Path) -> Path:
    """Templates to put before the repository's: its entry card with one more class on
    the headline."""
    templates = tmp_path / "templates"
    (templates / "updates").mkdir(parents=True)
    card = (settings.BASE_DIR / "templates" / "updates" / "_entry.html").read_text()
    changed = card.replace('class="entry__headline"', f'class="entry__headline {MARK}"')
    assert changed != card
    (templates / "updates" / "_entry.html").write_text(changed)
    return templates


@pytest.fixture
def new_release_env(daphne_env, changed_card: Path, tmp_path: Path) -> dict[str, str]:
    """The Daphne environment of a release whose card is the changed one."""
    (tmp_path / "new_release_settings.py").write_text(
        "from liveblog.settings import *  # noqa: F403\n"
        f"TEMPLATES[0]['DIRS'] = [{str(changed_card)!r}, *TEMPLATES[0]['DIRS']]  # noqa: F405\n"
    )
    return daphne_env | {
        "DJANGO_SETTINGS_MODULE": "new_release_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), daphne_env["PYTHONPATH"]]),
    }


@contextmanager
def serving(request, name: str, env: dict[str, str], log_dir: Path) -> Iterator[DaphneServer]:
    server = daphne_start(name, env, log_dir)
    request.node.stash.setdefault(SERVERS, []).append(server)
    try:
        yield server
    finally:
        server.stop()


def answers(server: DaphneServer) -> list[str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return [opener.open(server.url + path, timeout=5).read().decode() for path in ANSWERS]


@pytest.fixture
def entry(make_entry) -> Entry:
    return make_entry(headline="Turnout 46.2%")


def test_a_new_release_serves_its_own_cards_from_a_cache_the_old_one_filled(
    request, daphne_env, new_release_env, entry, tmp_path
):
    with serving(request, "old", daphne_env, tmp_path) as old:
        # The old release's page, its API page and its catch-up, rendered and kept in Redis.
        assert all("Turnout 46.2%" in answer and MARK not in answer for answer in answers(old))
        with serving(request, "new", new_release_env, tmp_path) as new:
            assert all(MARK in answer for answer in answers(new))
            # Both halves of a rolling deploy serve their own markup side by side.
            assert all(MARK not in answer for answer in answers(old))


def test_the_release_changes_with_the_card_template_and_the_time_zone(settings, changed_card):
    repository = cache_keys.release()
    settings.TIME_ZONE = "Europe/London"
    in_london = cache_keys.release()
    settings.TEMPLATES = [
        settings.TEMPLATES[0] | {"DIRS": [changed_card, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    assert len({repository, in_london, cache_keys.release()}) == 3


def test_counts_carry_no_release_so_both_halves_of_a_rolling_deploy_share_them():
    # Nothing rendered: the same key whatever the release, or limits would double mid-deploy.
    key = cache_keys.rate_limit("api", per_minute=600, address="192.0.2.1", window=1)
    assert cache_keys.release() not in key
    assert cache_keys.release() not in cache_keys.readers(7)
