"""Which process of the cluster runs the cluster's jobs: the one holding a short lease in Redis.

Every Daphne process asks once a tick (the scheduler's, every second). One takes the lease
(redis-py's Lock: SET NX with a lifetime of LEASE_SECONDS) and renews it at every tick;
the others find it taken. If the holder dies, its lease runs out and another process has
it within LEASE_SECONDS and a tick; a holder that stops (SIGTERM, a rolling restart)
gives it up at once (process.lifespan). Without Redis there is one process, which holds it.

The lease saves the other processes the work; it is not what makes a job's effect happen
once. Scheduled entries go live once because entry_publish_due locks each entry's event
in the database, so while Redis cannot be reached every process runs the job again, as
before there was a lease.
"""

import logging

import redis.asyncio
from django.conf import settings
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError, RedisError

from liveblog.backends import async_redis_client
from updates import cache_keys
from updates.live import runtime

logger = logging.getLogger(__name__)

LEASE_SECONDS = 5


def _client() -> redis.asyncio.Redis:
    # Not long stuck on a Redis that does not answer: the next tick asks again.
    return async_redis_client(
        settings.REDIS_URL, settings.REDIS_SENTINEL, socket_timeout=2, socket_connect_timeout=2
    )


def _lock(client: redis.asyncio.Redis) -> Lock:
    return client.lock(
        cache_keys.jobs_lease(), timeout=LEASE_SECONDS, blocking=False, thread_local=False
    )


async def held() -> bool:
    """Whether this process runs the cluster's jobs now: it holds the lease (taken or
    renewed by this call), or Redis cannot tell."""
    if not settings.REDIS_URL:
        return True
    state = runtime.current()
    me = state.process_id
    client = _client()
    try:
        lock = _lock(client)
        if state.holds_lease:
            lock.local.token = me.encode()
            try:
                await lock.reacquire()
            except LockNotOwnedError:
                # It ran out (this process stalled longer than the lease): another has it.
                _now_holds(False)
                return False
            return True
        if await lock.acquire(token=me):
            _now_holds(True)
            return True
        state.holds_lease = False
        return False
    except RedisError:
        if state.holds_lease is not None:
            logger.warning("Redis cannot tell which process runs the cluster's jobs: all do")
            state.holds_lease = None
        return True
    finally:
        await client.aclose()


async def release() -> None:
    """Give the lease up, if this process holds it: another takes it at its next tick."""
    state = runtime.current()
    if not settings.REDIS_URL or not state.holds_lease:
        return
    client = _client()
    try:
        lock = _lock(client)
        lock.local.token = state.process_id.encode()
        await lock.release()
        _now_holds(False)
    except (LockNotOwnedError, RedisError):
        pass  # gone already, or Redis is: the lease runs out by itself
    finally:
        await client.aclose()


def _now_holds(holds: bool) -> None:
    runtime.current().holds_lease = holds
    if holds:
        logger.info("This process (%s) runs the cluster's jobs", runtime.current().process_id)
    else:
        logger.info("This process no longer runs the cluster's jobs")
