"""What a shared cache in front of the app (nginx in deploy/, a CDN) may keep of the answers
a crowd asks for and every publish changes: the live page (and its embed), and the API's
newest page of entries.

Each carries an ETag named by what it is rendered from (the release and the event's
revision, through cache_keys.at_revision, and which answer it is), so a cache or a browser
asking again with If-None-Match gets a 304 before anything is rendered: one query, for
the event. Cache-Control lets a shared cache answer everyone from its copy for
SHARED_SECONDS, and from the stale copy for STALE_SECONDS more while one request asks
again. A page a few seconds old loses nothing: its script connects with the page's
revision and is sent what it missed (docs/api.md).

Two things would make a kept page wrong for the next reader, and neither is in one:
- a per-response CSP nonce: a kept page would show every reader the same one, which must
  be unguessable, and a copy revalidated by a 304 would hold a nonce its new header no
  longer names. Reader pages use none: they have no inline script, and their scripts and
  styles are the site's own files, which the policy's 'self' allows;
- the reading order taken from the reader's cookie rather than the URL: that answer is
  private, and a shared cache must not answer a request that carries the cookie
  (deploy/nginx.conf bypasses its cache for it; docs/caching.md says what a CDN needs).
"""

import hashlib

from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control

from updates import cache_keys
from updates.models import Event

SHARED_SECONDS = 2
STALE_SECONDS = 30


def etag(event: Event, answer: str) -> str:
    """The ETag of `answer` at the event's revision. Hashed, so as not to show the event's id."""
    at_revision = cache_keys.at_revision(event, answer)
    return f'"{hashlib.blake2b(at_revision.encode(), digest_size=12).hexdigest()}"'


def not_modified(request: HttpRequest, tag: str) -> HttpResponse | None:
    """A 304 when the asker's copy is the current one, else None."""
    answer = get_conditional_response(request, etag=tag)
    return answer if isinstance(answer, HttpResponse) else None


def shared(response: HttpResponse, tag: str) -> HttpResponse:
    """Marks response as one any cache may keep, and any reader be given, for a moment."""
    response["ETag"] = tag
    patch_cache_control(
        response,
        public=True,
        max_age=0,
        s_maxage=SHARED_SECONDS,
        stale_while_revalidate=STALE_SECONDS,
    )
    return response


def private(response: HttpResponse, tag: str) -> HttpResponse:
    """Marks response as this reader's own (asked by their cookie): their browser may ask
    again with its ETag, no shared cache may keep it."""
    response["ETag"] = tag
    patch_cache_control(response, private=True, max_age=0)
    return response
