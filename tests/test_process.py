"""A serving process's life: importing the application starts nothing; the server's
lifespan start-up tunes the garbage collector and starts the jobs, its shutdown stops them;
under a server that sends no lifespan events, the first reader starts the jobs."""

import asyncio
import gc
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from tests.servers import wait_for
from updates.live import process, runtime
from updates.models import Entry
from updates.services import entry_publish


def test_importing_the_application_changes_nothing_in_the_process():
    script = """
import gc, sys
before = (gc.get_threshold(), gc.get_freeze_count())
import liveblog.asgi
from updates.live import runtime
after = (gc.get_threshold(), gc.get_freeze_count())
assert after == before, (before, after)
assert runtime._current is None, "the import made a runtime"
print("unchanged")
"""
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "liveblog.settings"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unchanged"


@pytest.fixture
def garbage_collector_restored():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_the_lifespan_start_up_tunes_the_collector_and_starts_the_jobs(
    garbage_collector_restored,
):
    from liveblog.asgi import application

    server = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await server.send_input({"type": "lifespan.startup"})
    assert await server.receive_output(timeout=5) == {"type": "lifespan.startup.complete"}

    assert gc.get_threshold() == process.GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    running = runtime.current().jobs[asyncio.get_running_loop()]
    assert set(running) == {job for job, _ in process.PERIODIC_JOBS}
    assert not any(task.done() for task in running.values())

    await server.send_input({"type": "lifespan.shutdown"})
    assert await server.receive_output(timeout=5) == {"type": "lifespan.shutdown.complete"}
    await asyncio.sleep(0)
    assert all(task.cancelled() for task in running.values())
    assert not runtime.current().started


@pytest.mark.django_db(transaction=True)
async def test_without_lifespan_the_first_reader_starts_the_jobs(event):
    from liveblog.asgi import application

    assert not runtime.current().jobs
    reader = WebsocketCommunicator(
        application, "/ws/live/harbourside/", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await reader.connect()
    assert connected
    await reader.receive_json_from()
    running = runtime.current().jobs[asyncio.get_running_loop()]
    assert set(running) == {job for job, _ in process.PERIODIC_JOBS}
    await reader.disconnect()


@pytest.mark.django_db(transaction=True)
def test_the_server_runs_the_jobs_from_its_start_before_any_reader(
    reader_server, event, journalist
):
    # Nothing but the fixture's request for the home page reaches the process: the entry
    # goes live because the server's lifespan start-up started the scheduler.
    soon = timezone.now() + timedelta(seconds=1)
    entry = entry_publish(
        event=event,
        author=journalist,
        headline="Count at 2am",
        body="<p>Soon.</p>",
        published_at=soon,
    )
    assert not entry.live
    wait_for(
        lambda: Entry.objects.get(pk=entry.pk).live,
        timeout=10,
        what="the scheduled entry going live",
    )


async def test_a_start_up_that_fails_says_so_and_the_server_stops(monkeypatch):
    from liveblog.asgi import application

    def broken() -> None:
        raise RuntimeError("no event loop for the jobs")

    monkeypatch.setattr(process, "start", broken)
    monkeypatch.setattr(process, "tune_garbage_collector", lambda: None)
    server = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
    await server.send_input({"type": "lifespan.startup"})

    reply = await server.receive_output(timeout=5)
    assert reply["type"] == "lifespan.startup.failed"
    assert "no event loop for the jobs" in reply["message"]
