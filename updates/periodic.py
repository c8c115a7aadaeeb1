"""Jobs each process runs every few seconds, in its event loop, started on first use.

Daphne has no start-up hook for the application (no ASGI lifespan), so the first
connection to a process starts its jobs (see liveblog/asgi.py); in production the
unit's start-up request for /healthz does that as soon as a process is up
(deploy/liveblog-daphne@.service).
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]

_tasks: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Job, asyncio.Task]]" = (
    weakref.WeakKeyDictionary()
)


def ensure_running(job: Job, *, every: float) -> None:
    """Run job every `every` seconds in this event loop, once however often it is asked."""
    loop = asyncio.get_running_loop()
    tasks = _tasks.setdefault(loop, {})
    if job not in tasks:
        tasks[job] = loop.create_task(_forever(job, every))


async def _forever(job: Job, every: float) -> None:
    failing = False
    while True:
        await asyncio.sleep(every)
        try:
            await job()
        except Exception:
            # Once per outage, not every few seconds while Redis or the database is down.
            if not failing:
                logger.exception("%s failed; trying again every %s s", job.__qualname__, every)
            failing = True
        else:
            if failing:
                logger.info("%s works again", job.__qualname__)
            failing = False
