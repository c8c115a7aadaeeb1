"""Real Daphne processes for the tests that need them (browser, faults, load).

Each runs on a free port with this process's test database and Redis, and logs to a
file that a failed test's report shows. The fixtures that start them are in
tests/conftest.py.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import HTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

SERVER_START_SECONDS = 20.0
SERVER_STOP_SECONDS = 5.0
SECRET_KEY = "tests-only-not-a-secret"
ASGI_APPLICATION = "liveblog.asgi:application"


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


def django_process(program: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Runs program in a Python process of its own, Django set up with liveblog's settings
    under this environment (a process reads its settings once); its output captured."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + program],
        cwd=settings.BASE_DIR,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "liveblog.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


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


def daphne_command(options: Sequence[str] = ()) -> list[str]:
    """Daphne as production runs it (liveblog/server.py: its limits), plus any options
    a test changes, e.g. ["--ping-interval", "1"]; the last one given wins.

    With LIVEBLOG_TEST_DAPHNE=stock (make test-stock-daphne), stock Daphne with the limits
    it takes: the app must be served correctly without liveblog/server.py."""
    if os.environ.get("LIVEBLOG_TEST_DAPHNE") == "stock":
        return [sys.executable, "-m", "daphne", *stock_limit_options(), *options]
    return [sys.executable, "-m", "liveblog.server", *options]


def stock_limit_options() -> list[str]:
    """liveblog/server.py's STOCK_LIMITS as stock Daphne's command-line options."""
    from daphne.cli import CommandLineInterface

    from liveblog.server import STOCK_LIMITS

    parser = CommandLineInterface().parser
    flags = {
        action.dest: action.option_strings[-1]
        for action in parser._actions
        if action.option_strings
    }
    return [option for name, value in STOCK_LIMITS.items() for option in (flags[name], str(value))]


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

    def freeze(self) -> None:
        """SIGSTOP: the process keeps its sockets open and answers nothing, as a hung
        host would; the kernel still completes TCP handshakes on its listening port."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no close frames, no cleanup, as a crash or the OOM killer."""
        self.process.kill()
        self.process.wait(timeout=SERVER_STOP_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()  # a frozen process would hold SIGTERM until thawed
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
    name: str,
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    options: Sequence[str] = (),
) -> DaphneServer:
    """Daphne on a free port, or on `port` (to restart a server where its readers expect it)."""
    fixed_port = port
    for attempt in range(3):
        port = fixed_port or free_port()
        log_path = log_dir / f"daphne-{name}-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*daphne_command(options), "-b", "127.0.0.1", "-p", str(port), ASGI_APPLICATION],
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


class RestartableServer:
    """A Daphne process the test stops and starts again on the same port, as a deploy or
    a crash would: its readers' pages keep the address they were loaded from."""

    def __init__(
        self,
        request: pytest.FixtureRequest,
        name: str,
        env: dict,
        log_dir: Path,
        options: Sequence[str] = (),
    ):
        self._request, self.name, self._env, self._log_dir = request, name, env, log_dir
        self._options = options
        self.restarts = 0
        self.server = self._track(daphne_start(name, env, log_dir, options=options))

    def _track(self, server: DaphneServer) -> DaphneServer:
        self._request.node.stash.setdefault(SERVERS, []).append(server)
        return server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.stop()

    def kill(self) -> None:
        self.server.kill()

    def start(self) -> None:
        """Start it again on its port; returns once it serves pages."""
        self.restarts += 1
        self.server = self._track(
            daphne_start(
                f"{self.name}-restart{self.restarts}",
                self._env,
                self._log_dir,
                port=self.server.port,
                options=self._options,
            )
        )


@contextmanager
def serving[Server: HTTPServer](server: Server) -> Iterator[Server]:
    """An HTTP server of the test's own, answering in a thread while the block runs."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
