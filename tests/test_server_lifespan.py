"""`python -m liveblog.server` tells the application when the process starts and stops
serving (the ASGI lifespan protocol, which stock Daphne does not speak), with the fast
path and without: a real process, real signals, and a small application
(tests/lifespan_app.py) that writes down each event it gets.
"""

import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from liveblog.server import LIFESPAN_SHUTDOWN_SECONDS
from tests.servers import SERVER_START_SECONDS, free_port, wait_for

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    events_path: Path
    log_path: Path

    def events(self) -> list[str]:
        try:
            return self.events_path.read_text().split()
        except FileNotFoundError:
            return []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def answers(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.port}/", timeout=2) as response:
            return response.read() == b"serving"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=LIFESPAN_SHUTDOWN_SECONDS + 5)


@pytest.fixture
def serve(tmp_path: Path):
    started = []

    def serve(mode: str, options: tuple[str, ...] = ()) -> Served:
        port = free_port()
        log_path = tmp_path / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "liveblog.server", *options, "-b", "127.0.0.1"]
                + ["-p", str(port), "tests.lifespan_app:application"],
                cwd=REPOSITORY,
                env={
                    "PATH": "/usr/bin:/bin",
                    "LIFESPAN_TEST_MODE": mode,
                    "LIFESPAN_TEST_EVENTS": str(tmp_path / "events"),
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        served = Served(process, port, tmp_path / "events", log_path)
        started.append(served)
        return served

    yield serve
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


def wait_until_serving(served: Served) -> None:
    wait_for(served.answers, timeout=SERVER_START_SECONDS, what="serving")


@pytest.mark.parametrize("options", [(), ("--no-fast-path",)], ids=["fast path", "no fast path"])
def test_the_application_hears_the_process_start_and_stop(serve, options):
    served = serve("complete", options)
    wait_until_serving(served)
    wait_for(lambda: served.events() == ["lifespan.startup"], timeout=5, what="startup")

    assert served.stop() == 0, served.log()
    assert served.events() == ["lifespan.startup", "lifespan.shutdown"]


def test_a_failed_startup_stops_the_process_with_the_applications_message(serve):
    served = serve("fail")

    assert served.process.wait(timeout=SERVER_START_SECONDS) != 0
    assert "The application failed to start: no database" in served.log()
    assert served.events() == ["lifespan.startup"]


def test_an_application_without_lifespan_is_served_all_the_same(serve):
    served = serve("unsupported")
    wait_until_serving(served)

    assert served.stop() == 0, served.log()
    assert served.events() == []
    assert "Traceback" not in served.log()


def test_a_shutdown_that_never_finishes_is_cut_short(serve):
    served = serve("hang")
    wait_until_serving(served)
    wait_for(lambda: served.events() == ["lifespan.startup"], timeout=5, what="startup")
    signalled = time.monotonic()

    assert served.stop() == 0, served.log()
    assert time.monotonic() - signalled < LIFESPAN_SHUTDOWN_SECONDS + 2
    assert served.events() == ["lifespan.startup", "lifespan.shutdown"]
    assert "lifespan shutdown took over" in served.log()
