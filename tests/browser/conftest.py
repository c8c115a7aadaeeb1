"""End-to-end fixtures: real Daphne processes on the test database, driven by Chromium.

Every test gets its own Daphne processes, started on free ports after pytest-django
has made the test database, with the same database and Redis as this process. The
reader's page talks to one process and the newsroom's admin to another, so a change
saved in the admin can only reach the reader through Redis. Daphne sees only
committed data: the tests use transactional_db.

Playwright's async API runs in pytest-asyncio's loop, next to the other async tests.
With LIVEBLOG_SCREENSHOTS naming a directory, tests save screenshots of the live page
there (desktop and phone).
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from playwright.async_api import Browser, async_playwright, expect

from liveblog.layers import channel_layers
from tests.browser.pages import DESKTOP, PHONE, Desk, Newsroom, Reader
from tests.conftest import free_port
from updates.models import Entry

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 20.0
SERVER_STOP_SECONDS = 5.0
SECRET_KEY = "browser-tests-only-not-a-secret"
ASGI_APPLICATION = "liveblog.asgi:application"

# No wait in these tests is open-ended: expect() gives up after 5 s unless told otherwise.
expect.set_options(timeout=5_000)


# Daphne ------------------------------------------------------------------------------


def database_url(db: dict) -> str:
    """The DATABASE_URL of the database this process uses (the test database, once set up)."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("Daphne cannot share an in-memory SQLite database; give it a file")
        return f"sqlite:///{Path(name).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        credentials = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = quote(db.get("HOST") or "", safe="")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        at = "@" if credentials else ""
        return f"postgres://{credentials}{at}{host}{port}/{quote(db['NAME'], safe='')}"
    raise RuntimeError(f"The browser tests do not know how to share a {db['ENGINE']} database")


def daphne_command() -> list[str]:
    script = Path(sys.executable).with_name("daphne")
    return [str(script)] if script.exists() else [sys.executable, "-m", "daphne"]


@dataclass
class DaphneServer:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SERVER_STOP_SECONDS)


class PortTaken(Exception):
    pass


SERVERS = pytest.StashKey[list[DaphneServer]]()


def _wait_until_serving(server: DaphneServer) -> None:
    """Until the home page answers 200, which also proves Daphne reads the test database."""
    # Straight to 127.0.0.1, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if server.process.poll() is not None:
            log = server.log()
            if "Address already in use" in log or "CannotListenError" in log:
                raise PortTaken(server.port)
            raise RuntimeError(
                f"Daphne {server.name} exited with {server.process.returncode}; its log:\n{log}"
            )
        try:
            with opener.open(server.url + "/", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"Daphne {server.name} answered {error.code} for /; its log:\n{server.log()}"
            ) from error
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Daphne {server.name} did not answer within {SERVER_START_SECONDS:.0f} s; "
                f"its log:\n{server.log()}"
            )
        time.sleep(0.05)


def daphne_start(
    name: str, env: dict[str, str], log_dir: Path, port: int | None = None
) -> DaphneServer:
    """Daphne on a free port, or on `port` (to restart a server where its readers expect it)."""
    fixed_port = port
    for attempt in range(3):
        port = fixed_port or free_port()
        log_path = log_dir / f"daphne-{name}-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*daphne_command(), "-b", "127.0.0.1", "-p", str(port), ASGI_APPLICATION],
                cwd=settings.BASE_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = DaphneServer(name, port, process, log_path)
        try:
            _wait_until_serving(server)
            return server
        except PortTaken:
            # Another process took the free port between free_port() and Daphne's bind,
            # or the given port is not free again yet.
            server.stop()
            if attempt == 2:
                raise
            if fixed_port:
                time.sleep(0.5)
        except BaseException:
            server.stop()
            raise
    raise AssertionError("unreachable")


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    """Extra environment for the tests' Daphne processes. A test module overrides this
    fixture to change a setting, e.g. {"LIVE_POLL_SECONDS": "1"}."""
    return {}


@pytest.fixture
def daphne_env(transactional_db, redis_url: str, daphne_settings) -> dict[str, str]:
    """Settings for Daphne: this process's test database, Redis, production-like settings."""
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
    request: pytest.FixtureRequest, name: str, env: dict, tmp_path: Path
) -> Iterator[DaphneServer]:
    server = daphne_start(name, env, tmp_path)
    request.node.stash.setdefault(SERVERS, []).append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def reader_server(request, daphne_env, tmp_path) -> Iterator[DaphneServer]:
    """The Daphne process readers' pages and websockets talk to."""
    yield from _serve(request, "reader", daphne_env, tmp_path)


@pytest.fixture
def newsroom_server(request, daphne_env, tmp_path) -> Iterator[DaphneServer]:
    """Another Daphne process, for the journalist's admin."""
    yield from _serve(request, "newsroom", daphne_env, tmp_path)


class RestartableServer:
    """A Daphne process the test stops and starts again on the same port, as a deploy or
    a crash would: its readers' pages keep the address they were loaded from."""

    def __init__(self, request: pytest.FixtureRequest, name: str, env: dict, log_dir: Path):
        self._request, self.name, self._env, self._log_dir = request, name, env, log_dir
        self.restarts = 0
        self.server = self._track(daphne_start(name, env, log_dir))

    def _track(self, server: DaphneServer) -> DaphneServer:
        self._request.node.stash.setdefault(SERVERS, []).append(server)
        return server

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        """Start it again on its port; returns once it serves pages."""
        self.restarts += 1
        self.server = self._track(
            daphne_start(
                f"{self.name}-restart{self.restarts}",
                self._env,
                self._log_dir,
                port=self.server.port,
            )
        )


@pytest.fixture
def restartable_reader_server(request, daphne_env, tmp_path) -> Iterator[RestartableServer]:
    """The readers' Daphne, which the test may stop and start again (same port)."""
    restartable = RestartableServer(request, "reader", daphne_env, tmp_path)
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
        terminalreporter.section("browser test timings")
        for what, seconds in notes:
            terminalreporter.write_line(f"{seconds:6.2f} s  {what}")


@pytest.fixture
def desk(event, journalist, settings, redis_url: str) -> Desk:
    """The newsroom's writes from the test itself. This process publishes through the
    Daphne processes' Redis, as their own writes do, so every reader hears of them."""
    settings.CHANNEL_LAYERS = channel_layers(redis_url)
    return Desk(event, journalist)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.failed:
        for server in item.stash.get(SERVERS, []):
            report.sections.append((f"Daphne {server.name} at {server.url}", server.log()))
    return report


# Chromium ----------------------------------------------------------------------------


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=20_000
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def reader(browser: Browser, reader_server: DaphneServer) -> Reader:
    """A reader's browser (its own context), pointed at the reader's Daphne."""
    context = await browser.new_context(**DESKTOP)
    return Reader(await context.new_page(), reader_server.url)


@pytest.fixture
async def restartable_reader(browser: Browser, restartable_reader_server) -> Reader:
    """A reader's browser pointed at the Daphne the test may restart."""
    context = await browser.new_context(**DESKTOP)
    return Reader(await context.new_page(), restartable_reader_server.url)


@pytest.fixture
async def newsroom(browser: Browser, newsroom_server: DaphneServer) -> Newsroom:
    """A journalist's browser, not yet logged in, pointed at the newsroom's Daphne."""
    context = await browser.new_context(**DESKTOP)
    return Newsroom(await context.new_page(), newsroom_server.url)


@pytest.fixture
def screenshots(browser: Browser) -> Callable[[str, str], Awaitable[None]]:
    """capture(url, name): with LIVEBLOG_SCREENSHOTS set, saves name-desktop.png and
    name-phone.png of the page at url in that directory; otherwise does nothing."""
    directory = os.environ.get("LIVEBLOG_SCREENSHOTS")

    async def capture(url: str, name: str) -> None:
        if not directory:
            return
        Path(directory).mkdir(parents=True, exist_ok=True)
        for label, options in {"desktop": DESKTOP, "phone": PHONE}.items():
            context = await browser.new_context(**options)
            try:
                page = await context.new_page()
                await page.goto(url)
                # Finished animations: cards as they settle, not mid-flash.
                await page.screenshot(
                    path=Path(directory) / f"{name}-{label}.png", animations="disabled"
                )
            finally:
                await context.close()

    return capture


@pytest.fixture
def earlier_entry(make_entry) -> Entry:
    # Well before the admin's prefilled time, which is to the second: new entries go on top.
    return make_entry(
        headline="Polls are open",
        body="<p>Queues at St Brendan's.</p>",
        published_at=timezone.now() - timedelta(minutes=10),
    )
