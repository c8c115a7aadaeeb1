"""Full garbage collections when readers have left, rather than on the collector's schedule.

updates/live/process.py makes full collections rare, because one stalls every reader of
the process (bench/fanout.py shows it in the p99). But each closed socket leaves a
reference cycle (Twisted, autobahn, Daphne, the consumer) that only a full collection
frees: without one, readers coming and going grow Daphne without bound
(tests/load/test_churn.py holds it flat). So once enough readers have left since the last one, and
only then, this collects, and logs what it cost.
"""

import gc
import logging
import time

from updates.live import delivery, runtime

logger = logging.getLogger(__name__)

COLLECTOR_SECONDS = 5.0
# Collect once this many readers have left, or a fifth of those still here if more: the
# garbage stays a bounded share of the audience, and a big audience is not stalled
# every few seconds by a trickle of readers leaving.
LEFT_BEFORE_COLLECTING = 200
SHARE_LEFT_BEFORE_COLLECTING = 0.2


async def collect_after_readers_left() -> None:
    """A periodic job (see jobs.py)."""
    state = runtime.current()
    left = state.readers_left - state.readers_left_at_last_collection
    staying = sum(delivery.local_reader_counts_everywhere().values())
    if left < max(LEFT_BEFORE_COLLECTING, SHARE_LEFT_BEFORE_COLLECTING * staying):
        return
    state.readers_left_at_last_collection += left
    started = time.perf_counter()
    freed = gc.collect()
    logger.info(
        "Collected %s objects after %s readers left (%s staying) in %.0f ms",
        freed,
        left,
        staying,
        (time.perf_counter() - started) * 1000,
    )
