"""How many readers each event has right now, across every Daphne process.

Each process counts its own readers (the subscriptions in delivery.py) and, with
Redis, writes the counts every few seconds to one hash per event, a field per
process; a count older than PRESENCE_STALE_SECONDS belongs to a process that has
gone and is left out. Without Redis there is one process and its own count is all.
"""

import time

from django.conf import settings

from liveblog.backends import async_redis_client, redis_client
from updates import cache_keys
from updates.live import delivery, runtime

PRESENCE_SECONDS = 5.0
PRESENCE_STALE_SECONDS = 3 * PRESENCE_SECONDS


async def report() -> None:
    """Write this process's counts to Redis (a periodic job; see periodic.py)."""
    if not settings.REDIS_URL:
        return
    now = time.time()
    process = runtime.current().process_id
    client = async_redis_client(settings.REDIS_URL, settings.REDIS_SENTINEL, socket_timeout=2)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for event_id, count in delivery.local_reader_counts().items():
                pipe.hset(cache_keys.readers(event_id), process, f"{count}:{now}")
                pipe.expire(cache_keys.readers(event_id), int(PRESENCE_STALE_SECONDS) * 2)
            await pipe.execute()
    finally:
        await client.aclose()


def readers_now(event_id: int) -> int:
    if not settings.REDIS_URL:
        return delivery.local_reader_counts_everywhere().get(event_id, 0)
    client = redis_client(
        settings.REDIS_URL, settings.REDIS_SENTINEL, socket_timeout=2, decode_responses=True
    )
    try:
        fields = client.hgetall(cache_keys.readers(event_id))
    finally:
        client.close()
    fresh_after = time.time() - PRESENCE_STALE_SECONDS
    total = 0
    for value in fields.values():
        count, _, at = str(value).partition(":")  # str already: decode_responses
        if float(at) >= fresh_after:
            total += int(count)
    return total
