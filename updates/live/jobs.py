"""Jobs a serving process runs every few seconds, in its event loop.

updates/live/process.py starts them when the process starts serving.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from updates import metrics
from updates.live import runtime

logger = logging.getLogger(__name__)

type Job = Callable[[], Awaitable[None]]


def ensure_running(job: Job, *, every: float) -> None:
    """Run job every `every` seconds in this event loop, once however often it is asked."""
    loop = asyncio.get_running_loop()
    running = runtime.current().jobs.setdefault(loop, {})
    if job not in running:
        running[job] = loop.create_task(_forever(job, every))


def stop_all() -> None:
    """Cancel every job of this process's runtime, in whichever loop it runs."""
    for running in list(runtime.current().jobs.values()):
        for task in running.values():
            # A test's loop may be closed already, and its tasks with it.
            if not task.get_loop().is_closed():
                task.cancel()
        running.clear()


async def _forever(job: Job, every: float) -> None:
    failing = False
    name = job_name(job)
    while True:
        await asyncio.sleep(every)
        try:
            await job()
        except Exception:
            metrics.JOB_FAILURES.labels(job=name).inc()
            # Once per outage, not every few seconds while Redis or the database is down.
            if not failing:
                logger.exception("%s failed; trying again every %s s", job.__qualname__, every)
            failing = True
        else:
            metrics.JOB_LAST_SUCCESS.labels(job=name).set(time.time())
            if failing:
                logger.info("%s works again", job.__qualname__)
            failing = False


def job_name(job: Job) -> str:
    """E.g. "heartbeat.beat": its module's last name and its own."""
    return f"{job.__module__.rpartition('.')[2]}.{job.__name__}"
