import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

from liveblog.backends import channel_layers
from tests.servers import (
    SECRET_KEY,
    SERVERS,
    DaphneServer,
    RestartableServer,
    daphne_start,
    database_url,
    free_port,
    wait_for,
)
from updates import cache_keys
from updates.live import process, runtime
from updates.models import Entry, Event, JournalistProfile
from updates.roles import groups_create
from updates.services import entry_publish, event_create


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI every test must run: a skip there means a missing part, which is a failure.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        reporter.write_line(f"CI=true and {len(skipped)} tests skipped: failing the run.", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def collected_static() -> None:
    # Pages name their static files through the manifest that collectstatic writes.
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Every request in the tests comes from 127.0.0.1: one rate-limit budget
    (updates/ratelimit.py), and cached pages, that must not carry over between tests."""
    cache.clear()


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[runtime.Runtime]:
    """A process's state made anew for each test (updates/live/runtime.py): no delivery
    hub, job, held page, kept catch-up or count carries over; its jobs stop after."""
    yield runtime.replace()
    process.stop()


@pytest.fixture(scope="session", autouse=True)
def database_thread_disconnected(django_db_setup) -> Iterator[None]:
    """Closes the connection of the one thread database_sync_to_async shares, before the
    test database is dropped. After readers connect at once that thread is left holding
    one connection (one, however many readers; checked out of psycopg's pool, so closing
    the pool does not end it), and PostgreSQL refuses to drop a database in use."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Connections opened in worker threads (database_sync_to_async) must not outlive
    # their test, or PostgreSQL refuses to drop the test database at the end.
    from django.db import connections

    for each in connections.all():
        each.settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL if set, else a private redis-server from the PATH."""
    url = os.environ.get("REDIS_URL")
    if url:
        redis.Redis.from_url(url).ping()
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip(
            "needs Redis: set REDIS_URL, or install redis-server (apt-get install redis-server)"
        )
    port = free_port()
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: redis.Redis.from_url(url).ping(), timeout=10, what="redis-server start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["in-memory", "redis"])
def channel_layer(request: pytest.FixtureRequest, settings) -> str:
    """Runs the test once on each channel layer the app supports."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    settings.CHANNEL_LAYERS = channel_layers(url)
    return request.param


def newsroom_user(username: str, group: str, display_name: str, role: str) -> User:
    # Transactional tests flush the groups the migrations made; make them again.
    groups_create(Group, Permission)
    user = User.objects.create_user(username, password="correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    JournalistProfile.objects.create(user=user, display_name=display_name, role=role)
    return user


@pytest.fixture
def journalist(db) -> User:
    return newsroom_user("sam", "Journalist", "Sam Okafor", "Political Correspondent")


@pytest.fixture
def editor(db) -> User:
    return newsroom_user("ines", "Editor", "Ines Duarte", "Live Editor")


@pytest.fixture
def contributor(db) -> User:
    """Writes entries that wait for an editor's approval."""
    return newsroom_user("cal", "Contributor", "Cal Moreno", "Community Reporter")


@pytest.fixture
def journalist_client(client, journalist):
    client.force_login(journalist)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def event(db) -> Event:
    return event_create(title="Harbourside by-election", slug="harbourside", summary="The count.")


@pytest.fixture
def make_entry(event: Event, journalist: User):
    def make(**overrides) -> Entry:
        fields = {"headline": "Polls are open", "body": "<p>Queues at St Brendan's.</p>"}
        return entry_publish(event=event, author=journalist, **(fields | overrides))

    return make


# Daphne processes (tests/servers.py) ----------------------------------------------


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    """Extra environment for the tests' Daphne processes. A test module overrides this
    fixture to change a setting, e.g. {"LIVE_POLL_SECONDS": "1"}."""
    return {}


@pytest.fixture
def daphne_options() -> list[str]:
    """Extra command-line options for the tests' Daphne processes, over liveblog/server.py's
    limits. A test module overrides this fixture, e.g. ["--ping-interval", "1"]."""
    return []


@pytest.fixture
def daphne_env(transactional_db, redis_url: str, daphne_settings) -> dict[str, str]:
    """Settings for Daphne: this process's test database, Redis, production-like settings."""
    # Each test's processes start as a cluster of their own: no holder of the jobs' lease
    # left over from a process an earlier test killed (updates/live/lease.py).
    redis.Redis.from_url(redis_url).delete(cache_keys.jobs_lease())
    # The code under test, even where the virtualenv's editable install points elsewhere.
    pythonpath = os.pathsep.join(
        filter(None, [str(settings.BASE_DIR), os.environ.get("PYTHONPATH")])
    )
    return (
        os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "liveblog.settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "DEBUG": "false",
            # Plain HTTP on 127.0.0.1: no HTTPS redirect, no secure-only cookies.
            "HTTPS": "false",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
        }
        | daphne_settings
    )


def _serve(
    request: pytest.FixtureRequest, name: str, env: dict, tmp_path: Path, options: list[str]
) -> Iterator[DaphneServer]:
    server = daphne_start(name, env, tmp_path, options=options)
    request.node.stash.setdefault(SERVERS, []).append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def reader_server(request, daphne_env, daphne_options, tmp_path) -> Iterator[DaphneServer]:
    """The Daphne process readers' pages and websockets talk to."""
    yield from _serve(request, "reader", daphne_env, tmp_path, daphne_options)


@pytest.fixture
def newsroom_server(request, daphne_env, daphne_options, tmp_path) -> Iterator[DaphneServer]:
    """Another Daphne process, for the journalist's admin."""
    yield from _serve(request, "newsroom", daphne_env, tmp_path, daphne_options)


@pytest.fixture
def restartable_reader_server(
    request, daphne_env, daphne_options, tmp_path
) -> Iterator[RestartableServer]:
    """The readers' Daphne, which the test may stop and start again (same port)."""
    restartable = RestartableServer(request, "reader", daphne_env, tmp_path, daphne_options)
    try:
        yield restartable
    finally:
        restartable.stop()


TIMINGS = pytest.StashKey[list[tuple[str, float]]]()


@pytest.fixture
def timings(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """note(what, seconds): printed by the test and listed at the end of the run."""
    notes = request.config.stash.setdefault(TIMINGS, [])

    def note(what: str, seconds: float) -> None:
        print(f"{what}: {seconds:.2f} s")
        notes.append((f"{request.node.module.__name__.rsplit('.', 1)[-1]}: {what}", seconds))

    return note


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    notes = config.stash.get(TIMINGS, [])
    if notes:
        terminalreporter.section("timings: browser, fault and load tests")
        for what, seconds in notes:
            terminalreporter.write_line(f"{seconds:6.2f} s  {what}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.failed:
        for server in item.stash.get(SERVERS, []):
            report.sections.append((f"Daphne {server.name} at {server.url}", server.log()))
    return report
