"""Full garbage collections when readers have left, rather than on the collector's schedule.

liveblog/asgi.py makes full collections rare, because one stalls every reader of the
process (250-640 ms at 5,000 readers, bench/fanout.py). But each closed socket leaves a
reference cycle (Twisted, autobahn, Daphne, the consumer) that only a full collection
frees: readers coming and going grew Daphne by 54 MiB in two minutes without one
(tests/load/test_churn.py). So once enough readers have left since the last one, and
only then, this collects, and logs what it cost.
"""

import gc
import logging
import time

from updates import delivery

logger = logging.getLogger(__name__)

COLLECTOR_SECONDS = 5.0
# Collect once this many readers have left, or a fifth of those still here if more: the
# garbage stays a bounded share of the audience, and a big audience is not stalled
# every few seconds by a trickle of readers leaving.
LEFT_BEFORE_COLLECTING = 200
SHARE_LEFT_BEFORE_COLLECTING = 0.2

_left_at_last_collection = 0


async def collect_after_readers_left() -> None:
    """A periodic job (see periodic.py)."""
    global _left_at_last_collection
    left = delivery.readers_left() - _left_at_last_collection
    staying = sum(delivery.local_reader_counts_everywhere().values())
    if left < max(LEFT_BEFORE_COLLECTING, SHARE_LEFT_BEFORE_COLLECTING * staying):
        return
    _left_at_last_collection += left
    started = time.perf_counter()
    freed = gc.collect()
    logger.info(
        "Collected %s objects after %s readers left (%s staying) in %.0f ms",
        freed,
        left,
        staying,
        (time.perf_counter() - started) * 1000,
    )
