import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from liveblog.layers import channel_layers
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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    # Connections opened in worker threads (database_sync_to_async) must not outlive
    # their test, or PostgreSQL refuses to drop the test database at the end.
    from django.db import connections

    for connection in connections.all():
        connection.settings_dict["CONN_MAX_AGE"] = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


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
