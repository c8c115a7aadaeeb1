"""One process of the cluster runs the cluster's jobs (updates/live/lease.py): the first to
take the lease in Redis keeps it while it renews it; another takes it when it runs out or
is given up; without Redis, or while Redis cannot be reached, every process runs them
(each scheduled entry still goes live once: the database sees to that)."""

import asyncio
import logging

import pytest
import redis

from tests.servers import free_port
from updates import cache_keys
from updates.live import lease, runtime


@pytest.fixture
def cluster(settings, redis_url, monkeypatch):
    """Two processes' runtimes sharing Redis; `as_process(n)` makes process n current."""
    settings.REDIS_URL = redis_url
    redis.Redis.from_url(redis_url).delete(cache_keys.jobs_lease())
    processes = [runtime.Runtime(), runtime.Runtime()]

    def as_process(number: int) -> runtime.Runtime:
        monkeypatch.setattr(runtime, "_current", processes[number])
        return processes[number]

    yield as_process
    redis.Redis.from_url(redis_url).delete(cache_keys.jobs_lease())


async def test_the_first_process_to_ask_runs_the_jobs_and_keeps_them_while_it_renews(cluster):
    cluster(0)
    assert await lease.held()
    cluster(1)
    assert not await lease.held()
    for _ in range(3):
        cluster(0)
        assert await lease.held()
        cluster(1)
        assert not await lease.held()


async def test_a_process_that_stops_hands_the_jobs_over_at_once(cluster):
    cluster(0)
    assert await lease.held()
    await lease.release()
    cluster(1)
    assert await lease.held()
    cluster(0)
    assert not await lease.held()


async def test_when_the_holder_stops_renewing_another_process_takes_over(
    cluster, monkeypatch, caplog
):
    monkeypatch.setattr(lease, "LEASE_SECONDS", 0.3)
    caplog.set_level(logging.INFO, logger="updates.live.lease")
    first = cluster(0)
    assert await lease.held()
    # The holder hangs (or dies) past its lease: the next process to ask has the jobs.
    await asyncio.sleep(0.4)
    second = cluster(1)
    assert await lease.held()
    cluster(0)
    assert not await lease.held()
    assert first.holds_lease is False
    assert [record.getMessage() for record in caplog.records] == [
        f"This process ({first.process_id}) runs the cluster's jobs",
        f"This process ({second.process_id}) runs the cluster's jobs",
        "This process no longer runs the cluster's jobs",
    ]


async def test_while_redis_cannot_be_reached_every_process_runs_the_jobs(settings, caplog):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="updates.live.lease"):
        assert await lease.held()
        assert await lease.held()
    # Said once per outage, not every second.
    assert [record.getMessage() for record in caplog.records] == [
        "Redis cannot tell which process runs the cluster's jobs: all do"
    ]


async def test_without_redis_the_one_process_runs_the_jobs(settings):
    settings.REDIS_URL = ""
    assert await lease.held()
