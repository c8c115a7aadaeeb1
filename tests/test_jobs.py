import asyncio
import logging

from updates.live import jobs


async def test_a_failing_job_is_logged_once_per_outage_and_keeps_running(caplog):
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 3 or calls == 6:
            raise ConnectionError("Redis is down")

    with caplog.at_level(logging.INFO, logger="updates.live.jobs"):
        jobs.ensure_running(flaky, every=0.01)
        for _ in range(200):
            if calls >= 8:
                break
            await asyncio.sleep(0.01)
    jobs.stop_all()

    assert calls >= 8
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    recoveries = [r for r in caplog.records if "works again" in r.getMessage()]
    # Two outages (calls 1-3 and call 6): one error and one recovery line each.
    assert len(failures) == 2
    assert len(recoveries) == 2
