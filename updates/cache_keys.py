"""Every key liveblog keeps in the shared cache and in Redis; docs/caching.md lists each
with its lifetime and what makes it stale.

Keys that hold something rendered (a page's body, an entry's JSON with its card, an
answer of the API) start with the release: a digest of what renders them (the package's
version, the templates and modules that build the cached answers, the time zone the cards
show). A deploy that changes the card's template therefore never serves an old card
beside the new script, even from a Redis that other processes, old or new, keep filling.
Counts (rate limits, readers) hold nothing rendered and carry no release, so that both
halves of a rolling deploy share them.
"""

import contextlib
import functools
import hashlib
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import get_template

from updates.models import Entry, Event

# What the cached answers are made by: their templates as Django finds them (a site's own
# copy included), and the modules that compose them.
RENDERING_TEMPLATES = (
    "updates/_entry.html",
    "updates/_live_body.html",
    "updates/_page_metadata.html",
    # A feed's entries: its ETag is the release and the revision (updates/feeds.py).
    "feeds/entry.html",
)
RENDERING_MODULES = (
    "serialize.py",
    "answers.py",
    "selectors.py",
    "views.py",
    "api.py",
    "media.py",
    "pictures.py",
    "embeds.py",
    "templatetags/entry_media.py",
    "page_metadata.py",
    "feeds.py",
)


@functools.cache
def release() -> str:
    """This process's rendering, named: the same in every process of one deploy."""
    digest = hashlib.blake2b(digest_size=6)
    # Run from a checkout without installing it, there is no version: the files still count.
    with contextlib.suppress(metadata.PackageNotFoundError):
        digest.update(metadata.version("liveblog").encode())
    digest.update(settings.TIME_ZONE.encode())
    # The site's language and every translation: cached pages hold their words.
    digest.update(settings.LANGUAGE_CODE.encode())
    for catalog in sorted(Path(__file__).parent.glob("locale/*/LC_MESSAGES/*.mo")):
        digest.update(catalog.read_bytes())
    # Where pictures are served from (MEDIA_URL, a bucket's domain): cards carry addresses.
    digest.update(default_storage.url("pictures/").encode())
    for name in RENDERING_TEMPLATES:
        # Every backend's templates know their origin; django-stubs' type for what
        # get_template() returns, whichever the backend, names only render().
        origin = get_template(name).origin  # type: ignore[attr-defined]
        digest.update(Path(origin.name).read_bytes())
    for name in RENDERING_MODULES:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


@receiver(setting_changed)
def _rendering_changed(*, setting: str, **kwargs: object) -> None:
    # Tests change these; a process in production never does.
    if setting in ("TEMPLATES", "TIME_ZONE", "LANGUAGE_CODE", "MEDIA_URL", "STORAGES"):
        release.cache_clear()


def _event(event: Event) -> str:
    # The creation time tells a database started afresh (whose ids begin again) from the
    # one an old answer came from.
    return f"{event.pk}:{event.created_at.timestamp()}"


def at_revision(event: Event, name: str) -> str:
    """An answer about the event as of its revision (answers.cached_at_revision)."""
    return f"liveblog:{release()}:{name}:{_event(event)}:{event.revision}"


def entry_json(entry: Entry) -> str:
    """The entry exactly as readers would see it: every save takes a new version, and the
    permalink holds the event's slug. Needs entry.event loaded."""
    event = entry.event
    return (
        f"liveblog:{release()}:entry-json:{_event(event)}:{event.slug}:"
        f"{entry.pk}:{entry.version}:{entry.revision}"
    )


def rate_limit(name: str, *, per_minute: int, address: str, window: int) -> str:
    # The limit is in the key, so a changed limit starts a fresh count.
    return f"liveblog:ratelimit:{name}:{per_minute}:{address}:{window}"


def readers(event_id: int) -> str:
    """A Redis hash: each process's count of the event's readers (presence.py)."""
    return f"liveblog:readers:{event_id}"


def jobs_lease() -> str:
    """A Redis lock: which process runs the cluster's jobs (updates/live/lease.py)."""
    return "liveblog:jobs-lease"
