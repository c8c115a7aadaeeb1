"""Pages of "Load more" this process built, kept for readers who say which revision they show.

A page built at revision R is exact for a reader whose page shows revision R or less:
every change up to R is in it, and the reader's live feed brings the later ones, even for
an entry whose page was still on its way (static/live.js keeps those aside until it
arrives). So a "Load more" that says its page's revision (`min_revision=`) can be answered
from this process's memory, with neither the database round trip for the event's
revision nor the Redis one for the page: those two made a cached page cost several times
the trivial view (docs/performance.md). A request that says nothing, or a revision newer
than the page held, goes the long way, and the page it gets is held.

Only pages after a cursor: a cursor is signed with its event's id, so a held page can
only answer for the event it was built for, even if the slug is later given to another
event. A page is held for a short while, so that an event taken off the site stops being
served here soon after, and at most HELD_PAGES of them (each the size of a page's JSON) per process.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

HELD_PAGES = 500
HELD_SECONDS = 30


@dataclass(frozen=True, slots=True)
class _Held:
    revision: int
    body: bytes
    expires_at: float


class HeldPages:
    """The most recently used pages, each with the revision it was built at."""

    def __init__(
        self,
        *,
        size: int = HELD_PAGES,
        seconds: float = HELD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._seconds = seconds
        self._clock = clock
        self._pages: OrderedDict[Hashable, _Held] = OrderedDict()
        # Daphne runs sync views on a pool thread and gunicorn may be given threads.
        self._lock = threading.Lock()

    def get(self, key: Hashable, *, min_revision: int) -> bytes | None:
        """The page held under `key` if it was built at `min_revision` or later."""
        with self._lock:
            held = self._pages.get(key)
            if held is None:
                return None
            if held.expires_at <= self._clock():
                del self._pages[key]
                return None
            if held.revision < min_revision:
                return None
            self._pages.move_to_end(key)
            return held.body

    def hold(self, key: Hashable, *, revision: int, body: bytes) -> None:
        with self._lock:
            now = self._clock()
            held = self._pages.get(key)
            # Two requests built the page at once, and the older build came back last.
            if held is not None and held.revision > revision and held.expires_at > now:
                return
            self._pages[key] = _Held(revision, body, now + self._seconds)
            self._pages.move_to_end(key)
            while len(self._pages) > self._size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
