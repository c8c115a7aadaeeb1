"""What a serving process keeps between connections and requests, in one object.

The modules of updates/live/ (and the held pages of "Load more") keep their state here,
each in its own attribute, and reach it through current(): none keeps state in its module's
globals. (Pure functions' memos, which give the same answer in any process, are
functools.lru_cache: docs/caching.md.) The process's start (updates/live/process.py) makes it, or
its first use does where nothing started the process (a test, a management command);
each test gets a fresh one (tests/conftest.py).
"""

import asyncio
import os
import uuid
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from updates.held_pages import HeldPages

if TYPE_CHECKING:
    from updates.live.delivery import Hub
    from updates.live.jobs import Job


type PerLoop[T] = weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T]


class Runtime:
    def __init__(self) -> None:
        # This process among the others sharing Redis (updates/live/presence.py).
        self.process_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Per event loop: its delivery hub (updates/live/delivery.py), its periodic jobs
        # (updates/live/jobs.py) and the joining lookups under way (updates/live/joining.py).
        # One loop serves a process; a test may run several one after another.
        self.hubs: PerLoop[Hub] = weakref.WeakKeyDictionary()
        self.jobs: PerLoop[dict[Job, asyncio.Task[None]]] = weakref.WeakKeyDictionary()
        self.calls_under_way: PerLoop[dict[tuple[object, ...], asyncio.Future[Any]]] = (
            weakref.WeakKeyDictionary()
        )
        # Catch-up answers kept for the readers still to come (updates/live/joining.py).
        self.catch_ups: OrderedDict[tuple[object, ...], tuple[int, bytes]] = OrderedDict()
        # How many readers have left since the process started (updates/live/delivery.py),
        # and how many had at the last full collection (updates/live/collector.py).
        self.readers_left = 0
        self.readers_left_at_last_collection = 0
        # Whether this process holds the lease to run the cluster's jobs; None while
        # Redis cannot tell, and every process runs them (updates/live/lease.py).
        self.holds_lease: bool | None = False
        # "Load more" pages this process built (updates/held_pages.py, updates/answers.py).
        self.held_pages = HeldPages()

    @property
    def started(self) -> bool:
        """Whether the process's jobs run (updates/live/process.py)."""
        return any(self.jobs.values())


_current: Runtime | None = None


def current() -> Runtime:
    """This process's runtime, made on first use."""
    global _current
    if _current is None:
        _current = Runtime()
    return _current


def replace() -> Runtime:
    """Start afresh: a new runtime for what comes next (a test). The old one's jobs are
    not stopped here (see process.stop)."""
    global _current
    _current = Runtime()
    return _current
