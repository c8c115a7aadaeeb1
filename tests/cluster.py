"""make cluster's command (deploy/cluster.py) run by a test, on the test's database and
Redis: the processes it printed, what it says next, and a stop as Ctrl+C stops it."""

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from tests.servers import free_port

START_SECONDS = 90.0
STOP_SECONDS = 15.0
PROCESS_LINE = re.compile(r"^  (\S+)\s+port (\d+)\s+pid (\d+)\s+log (\S+)")


@dataclass
class Cluster:
    port: int
    command: subprocess.Popen
    # name: (pid, log path), as last printed
    processes: dict[str, tuple[int, str]] = field(default_factory=dict)
    # What it prints, line by line, read by a thread of its own (None once it exits).
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    # What it printed up to serving: the demo's logins among it.
    said: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, name: str) -> str:
        with open(self.processes[name][1], errors="replace") as log:
            return log.read()

    def wait_until_said(self, text: str, timeout: float) -> list[str]:
        """The lines it prints until one starts with text; each process line it prints
        on the way (a restart's) updates `processes`."""
        said: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:  # it exited
                break
            said.append(line)
            if match := PROCESS_LINE.match(line):
                name, _, pid, log = match.groups()
                self.processes[name] = (int(pid), log)
            if line.startswith(text):
                return said
        raise AssertionError(f"make cluster did not say {text!r} in {timeout} s:\n" + "".join(said))

    def stop(self) -> int:
        """SIGINT, as Ctrl+C: the command's exit code once it has stopped everything."""
        if self.command.poll() is None:
            self.command.send_signal(signal.SIGINT)
        try:
            return self.command.wait(timeout=STOP_SECONDS)
        finally:
            if self.command.poll() is None:
                self.command.terminate()  # it stops what it started, as for SIGINT
                self.command.wait(timeout=STOP_SECONDS)


def _read_lines(command: subprocess.Popen, lines: queue.Queue[str | None]) -> None:
    assert command.stdout is not None
    with command.stdout:
        for line in command.stdout:
            lines.put(line)
    lines.put(None)


def cluster_start(env: dict[str, str], daphnes: int = 2) -> Cluster:
    """Runs deploy/cluster.py and returns once it serves, with what it printed."""
    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster"],
        env=env | {"CLUSTER_PORT": str(port), "CLUSTER_DAPHNES": str(daphnes)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cluster = Cluster(port, command)
    threading.Thread(target=_read_lines, args=(command, cluster.lines), daemon=True).start()
    try:
        # The last line it prints.
        cluster.said = cluster.wait_until_said("kill -HUP", timeout=START_SECONDS)
    except AssertionError:
        cluster.stop()
        raise
    return cluster
