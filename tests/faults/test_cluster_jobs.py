"""The cluster's jobs run in one of three Daphne processes (updates/live/lease.py) from the
moment they serve, with no reader and no request: a scheduled entry goes live once at its
time. The process running them is SIGKILLed; another takes them over within the lease,
and the next scheduled entry goes live once too."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.servers import DaphneServer, daphne_start
from updates.live.lease import LEASE_SECONDS
from updates.live.scheduler import SCHEDULER_SECONDS
from updates.models import AuditRecord, Entry

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

PROCESSES = 3
RUNS_THE_JOBS = re.compile(r"This process \((\S+)\) runs the cluster's jobs")
# An entry goes live at the first tick after its time: a second, and a busy machine's slack.
LIVE_WITHIN_SECONDS = SCHEDULER_SECONDS + 2
# Once the holder is gone its lease runs out, and a survivor's next tick takes it.
TAKEN_OVER_WITHIN_SECONDS = LEASE_SECONDS + SCHEDULER_SECONDS + 2


def holders(servers: list[DaphneServer]) -> list[tuple[DaphneServer, str]]:
    """Each time a process said it took the jobs, in no particular order across processes."""
    return [(server, taken) for server in servers for taken in RUNS_THE_JOBS.findall(server.log())]


def wait_until(condition, *, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:.1f} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def went_live(entry: Entry) -> int:
    return AuditRecord.objects.filter(entry=entry, action=AuditRecord.Action.WENT_LIVE).count()


def goes_live_once(make_entry, headline: str) -> float:
    """Schedules an entry two seconds ahead; the seconds from its time to its going live."""
    at = timezone.now() + timedelta(seconds=2)
    entry = make_entry(headline=headline, published_at=at)
    assert entry.state == "scheduled"
    wait_until(
        lambda: Entry.objects.get(pk=entry.pk).live,
        timeout=2 + LIVE_WITHIN_SECONDS,
        what=f"{headline!r} live",
    )
    late = (timezone.now() - at).total_seconds()
    time.sleep(2 * SCHEDULER_SECONDS)  # another tick or two: nothing goes live twice
    assert went_live(entry) == 1
    return late


def test_one_process_of_three_runs_the_jobs_and_another_takes_them_when_it_is_killed(
    transactional_db, make_entry, daphne_env, tmp_path, timings
):
    servers = [daphne_start(f"jobs-{n}", daphne_env, tmp_path) for n in range(PROCESSES)]
    try:
        wait_until(lambda: holders(servers), timeout=5, what="a process running the jobs")
        late = goes_live_once(make_entry, "Polls close at 10pm")
        timings("a scheduled entry's time -> live, 3 processes", late)
        [(holder, _)] = holders(servers)  # one, and the same one throughout

        holder.kill()
        survivors = [server for server in servers if server is not holder]
        seconds = wait_until(
            lambda: holders(survivors),
            timeout=TAKEN_OVER_WITHIN_SECONDS,
            what="a survivor running the jobs",
        )
        timings("the jobs' holder SIGKILLed -> a survivor runs them", seconds)
        late = goes_live_once(make_entry, "The first box arrives at the count")
        timings("a scheduled entry's time -> live, after the takeover", late)
        assert len(holders(survivors)) == 1
    finally:
        for server in servers:
            server.stop()
