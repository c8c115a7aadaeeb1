"""A serving process's start and stop: the garbage collector's tuning and the periodic jobs.

They begin when the server says the process starts serving, through the ASGI lifespan
protocol (liveblog/asgi.py routes "lifespan" here): `python -m liveblog.server` sends its
events, as uvicorn and hypercorn do. Stock Daphne sends none, so there the first reader's
connection starts the jobs (updates/live/consumers.py), without the tuning
(docs/reliability.md). Importing the application starts nothing.
"""

import gc
import logging

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, LifespanScope

from updates.live import collector, heartbeat, jobs, lease, presence, runtime, scheduler

logger = logging.getLogger(__name__)

PERIODIC_JOBS = (
    (scheduler.publish_due, scheduler.SCHEDULER_SECONDS),
    (heartbeat.beat, heartbeat.HEARTBEAT_SECONDS),
    (presence.report, presence.PRESENCE_SECONDS),
    (collector.collect_after_readers_left, collector.COLLECTOR_SECONDS),
)

# Each reader holds a few hundred objects: with thousands of readers a full collection
# stalls every reader of the process for long enough to show in the fan-out's p99
# (bench/fanout.py). Collecting young objects less often lets a fan-out's short-lived ones
# die before they are promoted; the cycles readers leave behind are collected once enough
# have left (updates/live/collector.py).
GC_THRESHOLDS = (50_000, 20, 10)


def start() -> None:
    """Start this process's periodic jobs in the running event loop, once."""
    if runtime.current().started:
        return
    for job, every in PERIODIC_JOBS:
        jobs.ensure_running(job, every=every)


def stop() -> None:
    jobs.stop_all()


def tune_garbage_collector() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    # What is loaded by now (Django's settings, apps, models, URL patterns) lives as long
    # as the process: out of the collector's sight, so that a full collection walks only
    # what readers hold.
    gc.collect()
    gc.freeze()


async def lifespan(
    scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """The ASGI lifespan protocol: the server's word that the process starts or stops serving."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                tune_garbage_collector()
                start()
            except Exception as error:
                # The server stops rather than serve without its jobs.
                logger.exception("Could not start the periodic jobs")
                await send({"type": "lifespan.startup.failed", "message": repr(error)})
                return
            logger.info("Serving: periodic jobs started")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            stop()
            # Another process runs the cluster's jobs from its next tick, not the lease's end.
            await lease.release()
            await send({"type": "lifespan.shutdown.complete"})
            return
